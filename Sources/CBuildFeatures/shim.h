#ifndef ATTNPREC_CBUILDFEATURES_SHIM_H
#define ATTNPREC_CBUILDFEATURES_SHIM_H

/* The x86-64 features the importing Swift module is compiled for. Swift's code generation takes
   its target CPU and features from its Clang importer (-target-cpu, -Xcc -march=…), and these
   inline functions are compiled there, so the compiler's predefined macros answer for the Swift
   code itself. One bit per feature, in the order of attnprec_feature_names. */
static inline unsigned attnprec_compiled_features(void) {
    unsigned f = 0;
#ifdef __SSE4_2__
    f |= 1u << 0;
#endif
#ifdef __POPCNT__
    f |= 1u << 1;
#endif
#ifdef __AVX__
    f |= 1u << 2;
#endif
#ifdef __AVX2__
    f |= 1u << 3;
#endif
#ifdef __FMA__
    f |= 1u << 4;
#endif
#ifdef __BMI2__
    f |= 1u << 5;
#endif
#ifdef __F16C__
    f |= 1u << 6;
#endif
#ifdef __AVX512F__
    f |= 1u << 7;
#endif
#ifdef __AVX512BW__
    f |= 1u << 8;
#endif
#ifdef __AVX512VL__
    f |= 1u << 9;
#endif
#ifdef __AVX512DQ__
    f |= 1u << 10;
#endif
#ifdef __AVX512BF16__
    f |= 1u << 11;
#endif
#ifdef __AVX512FP16__
    f |= 1u << 12;
#endif
    return f;
}
#endif
