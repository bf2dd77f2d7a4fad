/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/lists_atomic.h -- the typed list macros, for daxo's
 * libpmemobj compatibility layer. @head is a pointer to a
 * POBJ_LIST_HEAD, @field the POBJ_LIST_ENTRY member of the elements.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_LISTS_ATOMIC_H
#define DAXO_COMPAT_PMEMOBJ_LISTS_ATOMIC_H 1

#include <libpmemobj/lists_atomic_base.h>
#include <libpmemobj/thread.h>
#include <libpmemobj/types.h>

#define POBJ_LIST_ENTRY(type)                                                  \
	struct {                                                               \
		TOID(type) pe_next;                                            \
		TOID(type) pe_prev;                                            \
	}

#define POBJ_LIST_HEAD(name, type)                                             \
	struct name {                                                          \
		TOID(type) pe_first;                                           \
		PMEMmutex lock;                                                \
	}

#define POBJ_LIST_FIRST(head) ((head)->pe_first)
#define POBJ_LIST_LAST(head, field)                                            \
	(TOID_IS_NULL((head)->pe_first) ? (head)->pe_first                     \
					: D_RO((head)->pe_first)->field.pe_prev)
#define POBJ_LIST_EMPTY(head) (TOID_IS_NULL((head)->pe_first))
#define POBJ_LIST_NEXT(elm, field) (D_RO(elm)->field.pe_next)
#define POBJ_LIST_PREV(elm, field) (D_RO(elm)->field.pe_prev)

#define POBJ_LIST_DEST_HEAD 1
#define POBJ_LIST_DEST_TAIL 0
#define POBJ_LIST_DEST_BEFORE 1
#define POBJ_LIST_DEST_AFTER 0

/* the walk ends after the element whose next is the first again */
#define POBJ_LIST_FOREACH(var, head, field)                                    \
	for ((var) = POBJ_LIST_FIRST(head); !TOID_IS_NULL(var);               \
	     TOID_EQUALS(POBJ_LIST_NEXT(var, field), POBJ_LIST_FIRST(head))    \
		     ? (void)((var).oid = OID_NULL)                            \
		     : (void)((var) = POBJ_LIST_NEXT(var, field)))
#define POBJ_LIST_FOREACH_REVERSE(var, head, field)                            \
	for ((var) = POBJ_LIST_LAST(head, field); !TOID_IS_NULL(var);         \
	     TOID_EQUALS(POBJ_LIST_PREV(var, field),                           \
			 POBJ_LIST_LAST(head, field))                          \
		     ? (void)((var).oid = OID_NULL)                            \
		     : (void)((var) = POBJ_LIST_PREV(var, field)))

/* the entry's offset in the element type of @head */
#define _DAXOC_PE_OFF(head, field) TOID_OFFSETOF((head)->pe_first, field)
#define _DAXOC_PE_TYPE(head) TOID_TYPE_NUM_OF((head)->pe_first)

#define POBJ_LIST_INSERT_HEAD(pop, head, elm, field)                           \
	pmemobj_list_insert((pop), _DAXOC_PE_OFF(head, field), (head),         \
			    OID_NULL, POBJ_LIST_DEST_HEAD, (elm).oid)
#define POBJ_LIST_INSERT_TAIL(pop, head, elm, field)                           \
	pmemobj_list_insert((pop), _DAXOC_PE_OFF(head, field), (head),         \
			    OID_NULL, POBJ_LIST_DEST_TAIL, (elm).oid)
#define POBJ_LIST_INSERT_AFTER(pop, head, listelm, elm, field)                 \
	pmemobj_list_insert((pop), _DAXOC_PE_OFF(head, field), (head),         \
			    (listelm).oid, POBJ_LIST_DEST_AFTER, (elm).oid)
#define POBJ_LIST_INSERT_BEFORE(pop, head, listelm, elm, field)                \
	pmemobj_list_insert((pop), _DAXOC_PE_OFF(head, field), (head),         \
			    (listelm).oid, POBJ_LIST_DEST_BEFORE, (elm).oid)

#define POBJ_LIST_INSERT_NEW_HEAD(pop, head, field, size, constr, arg)         \
	pmemobj_list_insert_new((pop), _DAXOC_PE_OFF(head, field), (head),     \
				OID_NULL, POBJ_LIST_DEST_HEAD, (size),         \
				_DAXOC_PE_TYPE(head), (constr), (arg))
#define POBJ_LIST_INSERT_NEW_TAIL(pop, head, field, size, constr, arg)         \
	pmemobj_list_insert_new((pop), _DAXOC_PE_OFF(head, field), (head),     \
				OID_NULL, POBJ_LIST_DEST_TAIL, (size),         \
				_DAXOC_PE_TYPE(head), (constr), (arg))
#define POBJ_LIST_INSERT_NEW_AFTER(pop, head, listelm, field, size, constr,    \
				   arg)                                        \
	pmemobj_list_insert_new((pop), _DAXOC_PE_OFF(head, field), (head),     \
				(listelm).oid, POBJ_LIST_DEST_AFTER, (size),   \
				_DAXOC_PE_TYPE(head), (constr), (arg))
#define POBJ_LIST_INSERT_NEW_BEFORE(pop, head, listelm, field, size, constr,   \
				    arg)                                       \
	pmemobj_list_insert_new((pop), _DAXOC_PE_OFF(head, field), (head),     \
				(listelm).oid, POBJ_LIST_DEST_BEFORE, (size),  \
				_DAXOC_PE_TYPE(head), (constr), (arg))

#define POBJ_LIST_REMOVE(pop, head, elm, field)                                \
	pmemobj_list_remove((pop), _DAXOC_PE_OFF(head, field), (head),         \
			    (elm).oid, 0)
#define POBJ_LIST_REMOVE_FREE(pop, head, elm, field)                           \
	pmemobj_list_remove((pop), _DAXOC_PE_OFF(head, field), (head),         \
			    (elm).oid, 1)

#define POBJ_LIST_MOVE_ELEMENT_HEAD(pop, head, head_new, elm, field,           \
				    field_new)                                 \
	pmemobj_list_move((pop), _DAXOC_PE_OFF(head, field), (head),           \
			  _DAXOC_PE_OFF(head_new, field_new), (head_new),      \
			  OID_NULL, POBJ_LIST_DEST_HEAD, (elm).oid)
#define POBJ_LIST_MOVE_ELEMENT_TAIL(pop, head, head_new, elm, field,           \
				    field_new)                                 \
	pmemobj_list_move((pop), _DAXOC_PE_OFF(head, field), (head),           \
			  _DAXOC_PE_OFF(head_new, field_new), (head_new),      \
			  OID_NULL, POBJ_LIST_DEST_TAIL, (elm).oid)
#define POBJ_LIST_MOVE_ELEMENT_AFTER(pop, head, head_new, listelm, elm,        \
				     field, field_new)                         \
	pmemobj_list_move((pop), _DAXOC_PE_OFF(head, field), (head),           \
			  _DAXOC_PE_OFF(head_new, field_new), (head_new),      \
			  (listelm).oid, POBJ_LIST_DEST_AFTER, (elm).oid)
#define POBJ_LIST_MOVE_ELEMENT_BEFORE(pop, head, head_new, listelm, elm,       \
				      field, field_new)                        \
	pmemobj_list_move((pop), _DAXOC_PE_OFF(head, field), (head),           \
			  _DAXOC_PE_OFF(head_new, field_new), (head_new),      \
			  (listelm).oid, POBJ_LIST_DEST_BEFORE, (elm).oid)

#endif /* DAXO_COMPAT_PMEMOBJ_LISTS_ATOMIC_H */
