/*
 * courier — test plugin for the host's outbox: deliver_message appends the message's key
 * to <inbox>/delivered.log. While the directory <inbox> does not exist the "partner is
 * down": it answers {"delivered": false} and the host must retry later.
 * Configuration: {"inbox": "/absolute/path"}.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include courier.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#include <posd_plugin.h>

#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char inbox[512];
} courier;

static void answer(posd_buffer *out, const char *json) {
    size_t len = strlen(json);
    out->data = malloc(len);
    if (!out->data) {
        out->len = 0;
        return;
    }
    memcpy(out->data, json, len);
    out->len = len;
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

/* Copies the string under key in object into dst; 0 if it is absent or does not fit. */
static int copy_string(json_object *object, const char *key, char *dst, size_t cap) {
    const char *value = object != NULL ? string_at(object, key) : NULL;
    if (value == NULL || strlen(value) >= cap)
        return 0;
    strcpy(dst, value);
    return 1;
}

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    courier *c = calloc(1, sizeof *c);
    json_object *cfg = parse(config, config_len);
    int ok = c != NULL && copy_string(cfg, "inbox", c->inbox, sizeof c->inbox);
    json_object_put(cfg);
    if (!ok) {
        free(c);
        answer(error, "{\"error\":\"InvalidConfiguration\",\"message\":\"courier needs \\\"inbox\\\"\"}");
        return NULL;
    }
    const char *hello = "courier ready";
    host->log(host->host, POSD_LOG_INFO, hello, strlen(hello));
    return c;
}

static void destroy(void *instance) { free(instance); }

static void free_buffer(posd_buffer *buffer) {
    free(buffer->data);
    buffer->data = NULL;
    buffer->len = 0;
}

static int32_t deliver_message(void *instance, const char *request, size_t len, posd_buffer *out) {
    courier *c = instance;
    struct stat st;
    if (stat(c->inbox, &st) != 0 || !S_ISDIR(st.st_mode)) {
        answer(out, "{\"delivered\":false,\"reason\":\"partner down\",\"retry_after_ms\":50}");
        return POSD_OK;
    }
    char key[256];
    json_object *req = parse(request, len), *message = NULL;
    int found = req != NULL && json_object_object_get_ex(req, "message", &message) &&
                copy_string(message, "key", key, sizeof key);
    json_object_put(req);
    if (!found) {
        answer(out, "{\"error\":\"InvalidArgument\",\"message\":\"no key\"}");
        return POSD_ERROR;
    }
    char path[600];
    snprintf(path, sizeof path, "%s/delivered.log", c->inbox);
    FILE *f = fopen(path, "a");
    if (!f) {
        answer(out, "{\"delivered\":false,\"reason\":\"cannot write\"}");
        return POSD_OK;
    }
    fprintf(f, "%s\n", key);
    fclose(f);
    answer(out, "{\"delivered\":true}");
    return POSD_OK;
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .deliver_message = deliver_message,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = "courier",
    .name = "Outbox test courier",
    .version = "1.0",
    .description = "Delivers outbox messages into a directory",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) { return &descriptor; }
