/*
 * abi10.c — test plugin as a plugin built against ABI 1.0 is: abi_minor = 0 and a hooks
 * table of the 1.0 size (POSD_PLUGIN_HOOKS_SIZE_1_0), which ends before the 1.1 admin
 * action hooks. A 1.1 host must load it, call its 1.0 hooks, and treat the admin action
 * hooks as absent (AdminActions lists nothing of it). classify_code claims nothing.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include abi10.c
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
    return put(response, "{\"claimed\":false}", POSD_OK);
}

/* The 1.0 size: the host must not read the 1.1 slots that follow in this struct. */
static const posd_plugin_hooks hooks = {
    .struct_size = POSD_PLUGIN_HOOKS_SIZE_1_0,
    .classify_code = classify_code,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
    .abi_major = 1,
    .abi_minor = 0,
    .min_abi_minor = 0,
    .id = "abi10",
    .name = "ABI 1.0 (test)",
    .version = "1.0.0",
    .description = "Test plugin: built as for ABI 1.0, without admin actions",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
