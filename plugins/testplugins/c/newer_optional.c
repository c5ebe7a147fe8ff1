/*
 * newer_optional.c — test plugin built against a future ABI 1.5 whose additions are
 * optional (abi_minor = 5, min_abi_minor = 0). Its descriptor and hooks table are larger
 * than 1.4's: each embeds the 1.4 struct and appends a field a 1.5 host would read. A 1.4
 * (or older) host must load it, read only the part of each struct it knows, and show
 * AbiVersion "1.5".
 * classify_code claims codes starting with "NEWER-" (kind "coupon") so a test can see it
 * works.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include newer_optional.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#include <json-c/json.h>
#include <stdint.h>
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

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    (void)instance;
    json_object *req = parse(request, len);
    const char *code = req != NULL ? string_at(req, "code") : NULL;
    int ours = code != NULL && strncmp(code, "NEWER-", strlen("NEWER-")) == 0;
    json_object_put(req);
    if (ours)
        return put(response, "{\"claimed\":true,\"kind\":\"coupon\"}", POSD_OK);
    return put(response, "{\"claimed\":false}", POSD_OK);
}

/* A hook only a 1.5 host knows; a 1.4 host never calls it. */
static int32_t future_hook(void *instance, const char *request, size_t len,
                           posd_buffer *response) {
    (void)instance;
    (void)request;
    (void)len;
    return put(response, "{}", POSD_OK);
}

/* The 1.5 hooks table: the 1.4 table, then a hook appended at its end. */
struct hooks_1_5 {
    posd_plugin_hooks v1_0;
    posd_hook future_hook;
};

static const struct hooks_1_5 hooks = {
    .v1_0 =
        {
            .struct_size = sizeof(struct hooks_1_5),
            .classify_code = classify_code,
        },
    .future_hook = future_hook,
};

/* The 1.5 descriptor: the 1.4 descriptor, then a field appended at its end. */
struct descriptor_1_5 {
    posd_plugin_descriptor v1_0;
    const char *homepage;
};

static const struct descriptor_1_5 descriptor = {
    .v1_0 =
        {
            .struct_size = sizeof(struct descriptor_1_5),
            .abi_major = 1,
            .abi_minor = 5,
            .min_abi_minor = 0,
            .id = "newer-optional",
            .name = "Newer, optional (test)",
            .version = "1.0.0",
            .description = "Test plugin: built against ABI 1.5 with optional additions",
            .create = create,
            .destroy = destroy,
            .free_buffer = free_buffer,
            .hooks = &hooks.v1_0,
        },
    .homepage = "https://example.invalid/newer-optional",
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor.v1_0;
}
