/*
 * counter.c — test plugin for reloads. classify_code counts its calls per instance and
 * claims codes starting with "COUNT-" as kind "voucher", with "balance" = the number of
 * calls this instance has had (1 on its first call). A fresh instance (reload, enable)
 * starts from 1 again. counter_v2.c is the same plugin (same id "counter") in version
 * 2.0.0, claiming with kind "coupon", so a test can tell that a hot reload happened.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include counter.c
 */
#include <stdio.h>
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

#ifndef KIND
#define KIND "voucher"
#define VERSION "1.0.0"
#define DESCRIPTION "Test plugin: COUNT- codes, balance = calls so far (version 1)"
#endif

/* One counter per instance. */
typedef struct {
    unsigned long calls;
} counter;

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    (void)config;
    (void)config_len;
    counter *c = calloc(1, sizeof *c);
    if (c == NULL && error != NULL)
        put(error, "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}", POSD_ERROR);
    return c;
}

static void destroy(void *instance) {
    free(instance);
}

/* Whether the request holds a string starting with COUNT- (in a classify_code request,
 * that is the code): a bounded search, no JSON parser needed for a test. */
static int is_ours(const char *request, size_t len) {
    static const char needle[] = "\"COUNT-";
    for (size_t i = 0; request != NULL && i + sizeof needle - 1 <= len; i++) {
        if (memcmp(request + i, needle, sizeof needle - 1) == 0)
            return 1;
    }
    return 0;
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    counter *c = instance;
    char json[96];
    if (c == NULL)
        return put(response, "{\"error\":\"InvalidArgument\",\"message\":\"no instance\"}",
                   POSD_ERROR);
    c->calls++;
    if (!is_ours(request, len))
        return put(response, "{\"claimed\":false}", POSD_OK);
    snprintf(json, sizeof json, "{\"claimed\":true,\"kind\":\"" KIND "\",\"balance\":\"%lu\"}",
             c->calls);
    return put(response, json, POSD_OK);
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
    .id = "counter",
    .name = "Counter (test)",
    .version = VERSION,
    .description = DESCRIPTION,
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
