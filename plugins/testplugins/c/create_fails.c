/*
 * create_fails.c — test plugin whose create returns NULL with an error object
 * {"error": "InvalidConfiguration", …}. The host must report the plugin failed with that
 * message, never call a hook on it, and not call destroy (there is no instance).
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include create_fails.c
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

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    (void)config;
    (void)config_len;
    if (error != NULL)
        put(error,
            "{\"error\":\"InvalidConfiguration\","
            "\"message\":\"create-fails always fails to create\"}",
            POSD_ERROR);
    return NULL;
}

static void destroy(void *instance) {
    (void)instance;
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    (void)instance;
    (void)request;
    (void)len;
    return put(response,
               "{\"error\":\"NotAllowed\",\"message\":\"create-fails has no instance\"}",
               POSD_ERROR);
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
    .id = "create-fails",
    .name = "Create fails (test)",
    .version = "1.0.0",
    .description = "Test plugin: create always fails",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
