#ifndef ATTNPREC_CBLAS_SHIM_H
#define ATTNPREC_CBLAS_SHIM_H
#include <cblas.h>
#endif
