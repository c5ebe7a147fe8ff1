/*
 * counter.c — test plugin for reloads. classify_code counts its calls per instance and
 * claims codes starting with "COUNT-" as kind "voucher", with "balance" = the number of
 * calls this instance has had (1 on its first call). A fresh instance (reload, enable)
 * starts from 1 again. counter_v2.c is the same plugin (same id "counter") in version
 * 2.0.0, claiming with kind "coupon", so a test can tell that a hot reload happened.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include counter.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#include <json-c/json.h>
#include <stdint.h>
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

/* The JSON value in text[0..len) (not NUL-terminated), parsed by json-c; NULL if it is
 * malformed or truncated. Give it back with json_object_put. */
static json_object *parse(const char *text, size_t len) {
    if (text == NULL || len > INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new();
    if (tok == NULL)
        return NULL;
    json_object *value = json_tokener_parse_ex(tok, text, (int)len);
    json_tokener_free(tok);
    return value;
}

/* The string under key in object, or NULL; valid as long as object is. */
static const char *string_at(json_object *object, const char *key) {
    json_object *value;
    if (!json_object_object_get_ex(object, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

/* Whether the request's "code" starts with COUNT-. */
static int is_ours(const char *request, size_t len) {
    json_object *req = parse(request, len);
    const char *code = req != NULL ? string_at(req, "code") : NULL;
    int ours = code != NULL && strncmp(code, "COUNT-", strlen("COUNT-")) == 0;
    json_object_put(req);
    return ours;
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
