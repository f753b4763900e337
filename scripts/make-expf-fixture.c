/* Writes Tests/ExactArithmeticTests/Fixtures/glibc-expf.txt: glibc expf on special and sampled inputs.
   gcc -O2 -o /tmp/fx scripts/make-expf-fixture.c -lm && /tmp/fx > Tests/ExactArithmeticTests/Fixtures/glibc-expf.txt
   Run it on an x86-64 machine with FMA (glibc then takes its FMA variant) and glibc 2.36. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
int main(){ uint64_t s=0x9e3779b97f4a7c15ull; printf("# input_bits output_bits: glibc 2.36 expf (FMA variant, AMD EPYC x86-64-v3), made by scripts/make-expf-fixture.c\n");
 uint32_t special[]={0x4202422f,0,0x80000000,0x7f800000,0xff800000,0x7fc00000,0x42b17217,0x42b17218,0xc2cff1b4,0xc2cff1b5,0xc2aeac50,0xc2aeac4f,0x3f800000,0xbf800000,0x00000001,0x80000001};
 for(unsigned i=0;i<sizeof special/4;i++){float x; memcpy(&x,&special[i],4); float y=expf(x); uint32_t b; memcpy(&b,&y,4); printf("%08x %08x\n",special[i],b);}
 for(int i=0;i<2000;i++){ s^=s<<13; s^=s>>7; s^=s<<17; uint32_t v=(uint32_t)(s>>32);
   /* mostly inputs in [-104, 89] where the polynomial path runs */
   if(i%4){ float x=-104.0f + 193.0f*((float)(v>>8)/16777216.0f); memcpy(&v,&x,4);} 
   float x; memcpy(&x,&v,4); float y=expf(x); uint32_t b; memcpy(&b,&y,4); printf("%08x %08x\n",v,b);} }
