/*
 * watcher.c — test plugin for when the host takes an early evaluate_basket answer. Its
 * evaluate_basket answers one preview, "saw N", N being the automatic lines of other
 * plugins (a non-empty "plugin" on a discount, free_product or points_redemption line) in
 * the sale it was shown, and says it is "independent" of them when its configuration says
 * {"independent": true}: a host that takes the answer although plugins before it added
 * lines since shows "saw 0"; one that asks again after them shows the count.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include watcher.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

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

/* The JSON value in text[0..len), or NULL. Give it back with json_object_put. */
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

static const char *string_at(json_object *object, const char *key) {
    json_object *value;
    if (!json_object_object_get_ex(object, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    return json_object_get_string(value);
}

typedef struct {
    bool independent;
} watcher;

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    watcher *w = calloc(1, sizeof *w);
    if (w == NULL) {
        if (error != NULL)
            put(error, "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}",
                POSD_ERROR);
        return NULL;
    }
    json_object *cfg = parse(config, config_len);
    json_object *flag;
    w->independent = cfg != NULL && json_object_object_get_ex(cfg, "independent", &flag) &&
                     json_object_get_boolean(flag);
    json_object_put(cfg);
    return w;
}

static void destroy(void *instance) {
    free(instance);
}

static bool is_reduction(const char *kind) {
    return kind != NULL && (strcmp(kind, "discount") == 0 || strcmp(kind, "free_product") == 0 ||
                            strcmp(kind, "points_redemption") == 0);
}

static int32_t evaluate_basket(void *instance, const char *request, size_t len,
                               posd_buffer *response) {
    watcher *w = instance;
    json_object *req = parse(request, len);
    json_object *sale, *lines;
    size_t seen = 0;
    if (req != NULL && json_object_object_get_ex(req, "sale", &sale) &&
        json_object_object_get_ex(sale, "lines", &lines) &&
        json_object_is_type(lines, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(lines); i++) {
            json_object *line = json_object_array_get_idx(lines, i);
            const char *plugin = string_at(line, "plugin");
            if (plugin != NULL && plugin[0] != '\0' && is_reduction(string_at(line, "kind")))
                seen++;
        }
    }
    json_object_put(req);
    char json[160];
    snprintf(json, sizeof json,
             "{\"lines\":[],\"previews\":[{\"kind\":\"info\",\"label\":\"saw %zu\"}],"
             "\"independent\":%s}",
             seen, w != NULL && w->independent ? "true" : "false");
    return put(response, json, POSD_OK);
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .evaluate_basket = evaluate_basket,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = "watcher",
    .name = "Watcher (test)",
    .version = "1.0.0",
    .description = "Test plugin: previews how many other plugins' automatic lines it saw",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
