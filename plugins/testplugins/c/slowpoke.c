/*
 * slowpoke — test plugin: evaluate_basket and prepare_checkout each take 300 ms, opening a
 * window in which a test changes a sale while its checkout runs (the host must refuse it).
 */
#define _POSIX_C_SOURCE 199309L
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include "posd_plugin.h"
static int32_t put(posd_buffer *b, const char *json) {
    size_t len = strlen(json);
    b->data = malloc(len); b->len = b->data ? len : 0;
    if (!b->data) return POSD_ERROR;
    memcpy(b->data, json, len); return POSD_OK;
}
static void free_buffer(posd_buffer *b) { if (b) { free(b->data); b->data = NULL; b->len = 0; } }
static void *create(const posd_host_api *h, const char *c, size_t l, posd_buffer *e) {
    static char inst; (void)h; (void)c; (void)l; (void)e; return &inst; }
static void destroy(void *i) { (void)i; }
static void nap(void) { struct timespec t = {0, 300000000L}; nanosleep(&t, NULL); }
static int32_t evaluate_basket(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i; (void)r; (void)l; nap(); return put(out, "{}"); }
static int32_t prepare_checkout(void *i, const char *r, size_t l, posd_buffer *out) {
    (void)i; (void)r; (void)l; nap(); return put(out, "{}"); }
static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .evaluate_basket = evaluate_basket,
    .prepare_checkout = prepare_checkout,
};
static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR, .abi_minor = POSD_ABI_MINOR, .min_abi_minor = 0,
    .id = "slowpoke", .name = "Slowpoke", .version = "1.0.0", .description = "slow",
    .create = create, .destroy = destroy, .free_buffer = free_buffer, .hooks = &hooks,
};
const posd_plugin_descriptor *posd_plugin_entry(void) { return &descriptor; }
