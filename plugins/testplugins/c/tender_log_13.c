/*
 * tender_log_13.c — tender_log.c as a plugin built for ABI 1.3: abi_minor 3, a hooks table
 * of POSD_PLUGIN_HOOKS_SIZE_1_1 bytes (no release_tender slot), id "tender_log_13", tender
 * method "tab13", log code TABLOG13. A 1.4 host loads it, takes its tabs, and never calls
 * release_tender (the pointer past the declared size must not be read). The code is
 * tender_log.c's.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include tender_log_13.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#define TL_ID "tender_log_13"
#define TL_METHOD "tab13"
#define TL_CODE "TABLOG13"
#define TL_ABI_MINOR 3
#define TL_HOOKS_SIZE POSD_PLUGIN_HOOKS_SIZE_1_1
#include "tender_log.c"
