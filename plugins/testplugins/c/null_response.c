/*
 * null_response.c — test plugin whose classify_code answers POSD_OK with a NULL buffer of
 * length 5, which the ABI forbids (data is NULL exactly when len is 0). The host must turn
 * it into PluginFailed for that one call, must not read through the pointer, and may call
 * free_buffer on it (which copes).
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include null_response.c
 */
#include <stdlib.h>

#include "posd_plugin.h"

/* Nothing to free here ever (the one response is NULL), but the host may still call it. */
static void free_buffer(posd_buffer *buffer) {
    if (buffer != NULL) {
        free(buffer->data);
        buffer->data = NULL;
        buffer->len = 0;
    }
}

/* No state: the instance is a static byte. */
static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    static char instance;
    (void)host;
    (void)config;
    (void)config_len;
    (void)error;
    return &instance;
}

static void destroy(void *instance) {
    (void)instance;
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    (void)instance;
    (void)request;
    (void)len;
    response->data = NULL;
    response->len = 5;
    return POSD_OK;
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .classify_code = classify_code,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = "null-response",
    .name = "NULL response (test)",
    .version = "1.0.0",
    .description = "Test plugin: classify_code answers a NULL buffer with a length",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
