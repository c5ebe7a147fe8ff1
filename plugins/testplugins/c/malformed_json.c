/*
 * malformed_json.c — test plugin whose classify_code answers POSD_OK with the bytes
 * "{not json". The host must turn that into PluginFailed for that one call and go on.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include malformed_json.c
 */
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

/* Copies json into a malloc'ed buffer (freed by free_buffer below); returns status. */
static int32_t put(posd_buffer *buffer, const char *json, int32_t status) {
    size_t len = strlen(json);
    buffer->data = malloc(len);
    buffer->len = buffer->data != NULL ? len : 0;
    if (buffer->data == NULL)
        return POSD_ERROR;
    memcpy(buffer->data, json, len);
    return status;
}

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
    return put(response, "{not json", POSD_OK);
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
    .id = "malformed-json",
    .name = "Malformed JSON (test)",
    .version = "1.0.0",
    .description = "Test plugin: classify_code answers invalid JSON",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
