/*
 * checkout_log_b.c — checkout_log.c as a second plugin: id "checkout_log_b", code LOG-B,
 * refusing FAIL-B and overdrawing on OVERDRAW-B. The code is checkout_log.c's.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include checkout_log_b.c
 */
#define LOG_ID "checkout_log_b"
#define LOG_X "B"
#include "checkout_log.c"
