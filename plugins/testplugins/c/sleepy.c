/*
 * sleepy.c — test plugin whose classify_code sleeps 5 s, then claims the code (kind
 * "coupon"). With the default 2000 ms deadline the host must answer PluginFailed after
 * about 2 s without waiting, throw the late answer away, and mark the plugin failed after
 * three missed deadlines in a row.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include sleepy.c
 */
#define _POSIX_C_SOURCE 199309L /* nanosleep */
#include <time.h>
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
    struct timespec left = {.tv_sec = 5, .tv_nsec = 0};
    (void)instance;
    (void)request;
    (void)len;
    while (nanosleep(&left, &left) != 0) {
        /* interrupted by a signal: sleep the rest */
    }
    return put(response, "{\"claimed\":true,\"kind\":\"coupon\"}", POSD_OK);
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
    .id = "sleepy",
    .name = "Sleepy (test)",
    .version = "1.0.0",
    .description = "Test plugin: classify_code takes 5 s",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
