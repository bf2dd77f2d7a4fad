/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * recorder.h -- the runtime of the contract recorder (recorder.c), called
 * by the wrappers gen_recorder.py makes from daxo.h.
 */
#ifndef DAXO_CONTRACT_RECORDER_H
#define DAXO_CONTRACT_RECORDER_H 1

#define REC_PASS_MAX 8

/* the values a call's callbacks returned (passed on, not its own errors) */
struct rec_pass {
	int n;
	int v[REC_PASS_MAX];
};

/* rec_real -- the library's definition of @name (the next one after us) */
void *rec_real(const char *name);
/* rec_pass_note -- a callback of the call returned @r */
void rec_pass_note(struct rec_pass *pass, int r);
/* rec_result -- @fn returned @r: log it if it is an error of its own */
void rec_result(const char *fn, int r, const struct rec_pass *pass);

#endif
