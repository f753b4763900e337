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
/* Arena support: a value whose significand lives in caller-owned memory (mpfr_custom_*). */
static inline size_t attnprec_mpfr_custom_size(mpfr_prec_t p) { return mpfr_custom_get_size(p); }
static inline void attnprec_mpfr_custom_init_zero(mpfr_ptr x, mpfr_prec_t p, void *limbs) {
    mpfr_custom_init(limbs, p);
    mpfr_custom_init_set(x, MPFR_ZERO_KIND, 0, p, limbs);
}
/* x rounded to double by round-to-odd: exact for a later rounding to any format with at most
   51 significand bits (Boldo-Melquiond), so MPFR -> double -> small format never double-rounds. */
static inline double attnprec_mpfr_get_d_odd(mpfr_srcptr x) {
    double d = mpfr_get_d(x, MPFR_RNDZ);
    if (mpfr_regular_p(x) && d == d && d - d == 0 && mpfr_cmp_d(x, d) != 0) {
        unsigned long long b;
        __builtin_memcpy(&b, &d, sizeof b);
        b |= 1ULL;
        __builtin_memcpy(&d, &b, sizeof b);
    }
    return d;
}
#endif
