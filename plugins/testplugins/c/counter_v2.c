/*
 * counter_v2.c — version 2.0.0 of the test plugin "counter" (see counter.c): the same id
 * and counting, but it claims "COUNT-" codes with kind "coupon" instead of "voucher", so a
 * test can tell that a hot reload replaced version 1. The code is counter.c's.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include counter_v2.c
 */
#define KIND "coupon"
#define VERSION "2.0.0"
#define DESCRIPTION "Test plugin: COUNT- codes, balance = calls so far (version 2)"
#include "counter.c"
