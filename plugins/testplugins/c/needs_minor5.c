/*
 * needs_minor5.c — test plugin built against a future ABI 1.5 that needs 1.5 (abi_minor = 5,
 * min_abi_minor = 5). A 1.4 host must refuse it, saying it needs 1.5, without calling
 * create (which fails with NotAllowed if it is called anyway).
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include needs_minor5.c
 */
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

/* Copies json into a malloc'ed buffer (freed by free_buffer below). */
static void put(posd_buffer *buffer, const char *json) {
    size_t len = strlen(json);
    buffer->data = malloc(len);
    buffer->len = buffer->data != NULL ? len : 0;
    if (buffer->data != NULL)
        memcpy(buffer->data, json, len);
}

/* A host that loads this plugin must not get this far; say so instead of crashing it. */
static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    (void)config;
    (void)config_len;
    if (error != NULL)
        put(error, "{\"error\":\"NotAllowed\",\"message\":\"needs-minor5: create was called"
                   " although the host must refuse this plugin\"}");
    return NULL;
}

static void destroy(void *instance) {
    (void)instance;
}

static void free_buffer(posd_buffer *buffer) {
    if (buffer != NULL) {
        free(buffer->data);
        buffer->data = NULL;
        buffer->len = 0;
    }
}

static const posd_plugin_hooks hooks = {.struct_size = sizeof(posd_plugin_hooks)};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = 1,
    .abi_minor = 5,
    .min_abi_minor = 5,
    .id = "needs-minor5",
    .name = "Needs 1.5 (test)",
    .version = "1.0.0",
    .description = "Test plugin: needs ABI 1.5, must be refused by a 1.4 host",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
