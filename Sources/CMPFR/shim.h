#ifndef ATTNPREC_CMPFR_SHIM_H
#define ATTNPREC_CMPFR_SHIM_H
#include <stdio.h>
#include <mpfr.h>

/* Macros and limits that Swift cannot import, as static inline functions. */
static inline mpfr_prec_t attnprec_mpfr_prec_max(void) { return MPFR_PREC_MAX; }
static inline mpfr_prec_t attnprec_mpfr_prec_min(void) { return MPFR_PREC_MIN; }
static inline int attnprec_mpfr_signbit(mpfr_srcptr x) { return mpfr_signbit(x); }
static inline int attnprec_mpfr_sgn(mpfr_srcptr x) { return mpfr_sgn(x); }
static inline int attnprec_mpfr_nan_p(mpfr_srcptr x) { return mpfr_nan_p(x); }
static inline int attnprec_mpfr_inf_p(mpfr_srcptr x) { return mpfr_inf_p(x); }
static inline int attnprec_mpfr_zero_p(mpfr_srcptr x) { return mpfr_zero_p(x); }
static inline mpfr_exp_t attnprec_mpfr_get_exp(mpfr_srcptr x) { return mpfr_get_exp(x); }
static inline int attnprec_mpfr_set_d(mpfr_ptr x, double d, mpfr_rnd_t r) { return mpfr_set_d(x, d, r); }
static inline int attnprec_mpfr_init_set_d(mpfr_ptr x, double d, mpfr_rnd_t r) { return mpfr_init_set_d(x, d, r); }
static inline mpfr_prec_t attnprec_mpfr_get_prec(mpfr_srcptr x) { return mpfr_get_prec(x); }
#endif
