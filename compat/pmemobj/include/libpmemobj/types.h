/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libpmemobj/types.h -- typed object handles (TOID) and layouts, for
 * daxo's libpmemobj compatibility layer.
 *
 * TOID(T) is a union of the PMEMoid with two pointers that carry, at
 * compile time only, the object type T and its type number: assigning a
 * TOID(struct a) to a TOID(struct b) is a type error, D_RW/D_RO return a
 * T pointer, and TOID_TYPE_NUM(T) is a constant. T may be a typedef name
 * or "struct x" / "union x" / "enum x": the keyword is eaten by the
 * _daxoc_kw_* macros when the name is pasted together.
 */
#ifndef DAXO_COMPAT_PMEMOBJ_TYPES_H
#define DAXO_COMPAT_PMEMOBJ_TYPES_H 1

#include <stddef.h>
#include <libpmemobj/base.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Longest layout name libpmemobj accepts (daxo accepts 63 bytes). */
#define PMEMOBJ_MAX_LAYOUT ((size_t)1024)

/** The type number of the root object. */
#define POBJ_ROOT_TYPE_NUM 0

/* "struct x" pasted into a name loses its keyword: _daxoc_kw_struct x_ */
#define _daxoc_kw_struct
#define _daxoc_kw_union
#define _daxoc_kw_enum

/* the union type of TOID(t) and the array type whose size is t's number */
#define TOID(t) union _daxoc_kw_##t##_daxoc_toid
#define _DAXOC_TNUM(t) _daxoc_kw_##t##_daxoc_tnum

#ifdef __cplusplus
#define _DAXOC_TOID_CTORS(t)                                                   \
	_daxoc_kw_##t##_daxoc_toid()                                           \
	{                                                                      \
	}                                                                      \
	_daxoc_kw_##t##_daxoc_toid(PMEMoid o) : oid(o)                         \
	{                                                                      \
	}
/* a TOID of type @ty (a union type) holding @o */
#define _DAXOC_AS_TOID(ty, o) ((ty)(o))
#else
#define _DAXOC_TOID_CTORS(t)
#define _DAXOC_AS_TOID(ty, o) ((ty){.oid = (o)})
#endif

/**
 * TOID_DECLARE -- declare the typed handle of @t with type number @i.
 * (_type and _type_num are never read at run time: sizeof and typeof
 * only.)
 */
#define TOID_DECLARE(t, i)                                                     \
	typedef uint8_t _DAXOC_TNUM(t)[(i) + 1];                               \
	TOID(t)                                                                \
	{                                                                      \
		_DAXOC_TOID_CTORS(t)                                           \
		PMEMoid oid;                                                   \
		t *_type;                                                      \
		_DAXOC_TNUM(t) * _type_num;                                    \
	}
#define TOID_DECLARE_ROOT(t) TOID_DECLARE(t, POBJ_ROOT_TYPE_NUM)

#define TOID_TYPE_NUM(t) (sizeof(_DAXOC_TNUM(t)) - 1)
#define TOID_TYPE_NUM_OF(o) (sizeof(*(o)._type_num) - 1)
#define TOID_TYPEOF(o) __typeof__(*(o)._type)
#define TOID_OFFSETOF(o, field) offsetof(TOID_TYPEOF(o), field)

#define TOID_NULL(t) _DAXOC_AS_TOID(TOID(t), OID_NULL)
#define TOID_IS_NULL(o) ((o).oid.off == 0)
#define TOID_EQUALS(a, b)                                                      \
	((a).oid.off == (b).oid.off &&                                         \
	 (a).oid.pool_uuid_lo == (b).oid.pool_uuid_lo)
/* does the object behind @o have @o's type number? */
#define TOID_VALID(o) (TOID_TYPE_NUM_OF(o) == pmemobj_type_num((o).oid))
#define OID_INSTANCEOF(o, t) (TOID_TYPE_NUM(t) == pmemobj_type_num(o))

/* TOID_ASSIGN -- set @o's handle to @value; the expression is @o */
#if defined(__GNUC__) && !defined(__cplusplus)
#define TOID_ASSIGN(o, value)                                                  \
	__extension__({                                                        \
		__typeof__(o) *_daxoc_p = &(o);                                \
		_daxoc_p->oid = (value);                                       \
		*_daxoc_p;                                                     \
	})
#else
#define TOID_ASSIGN(o, value) ((o).oid = (value), (o))
#endif

/* typed pointers to the object */
#ifdef __cplusplus
#define DIRECT_RW(o) (reinterpret_cast<__typeof__((o)._type)>(pmemobj_direct((o).oid)))
#define DIRECT_RO(o)                                                           \
	(reinterpret_cast<const __typeof__(*(o)._type) *>(                     \
		pmemobj_direct((o).oid)))
#else
#define DIRECT_RW(o) ((__typeof__(*(o)._type) *)pmemobj_direct((o).oid))
#define DIRECT_RO(o) ((const __typeof__(*(o)._type) *)pmemobj_direct((o).oid))
#endif
#define D_RW DIRECT_RW
#define D_RO DIRECT_RO

/*
 * Layouts: POBJ_LAYOUT_BEGIN(name) notes where __COUNTER__ stands;
 * each POBJ_LAYOUT_TOID(name, t) takes the next value, so the types get
 * numbers 1, 2, ... in order of declaration; POBJ_LAYOUT_ROOT takes
 * POBJ_ROOT_TYPE_NUM and no number; POBJ_LAYOUT_END counts them. As in
 * libpmemobj, the TOID, ROOT and END forms end in a semicolon of their
 * own (a program may add one: an empty declaration).
 */
#define POBJ_LAYOUT_BEGIN(name)                                                \
	enum { _daxoc_layout_##name##_first = __COUNTER__ }
#define POBJ_LAYOUT_TOID(name, t)                                              \
	TOID_DECLARE(t, (__COUNTER__ - _daxoc_layout_##name##_first));
#define POBJ_LAYOUT_ROOT(name, t) TOID_DECLARE_ROOT(t);
#define POBJ_LAYOUT_END(name)                                                  \
	enum {                                                                 \
		_daxoc_layout_##name##_count =                                 \
			__COUNTER__ - _daxoc_layout_##name##_first - 1         \
	};
#define POBJ_LAYOUT_NAME(name) #name
#define POBJ_LAYOUT_TYPES_NUM(name) ((size_t)_daxoc_layout_##name##_count)

#ifdef __cplusplus
}
#endif
#endif /* DAXO_COMPAT_PMEMOBJ_TYPES_H */
