/*
 * checkout_log.c — test plugin for the checkout protocol. It keeps a log of the checkout
 * hooks it hears ("prepare", "commit", "abort", space-separated) and shows it as the
 * "state" of the code LOG-<X> (classify_code), so a test can see who was told what.
 * prepare_checkout refuses (NotAllowed) a sale with an item of sku FAIL-<X>, and for sku
 * OVERDRAW-<X> answers with a posting that takes an empty account below its floor of 0.
 * <X> is A here; checkout_log_b.c is the same plugin as id "checkout_log_b" with X = B.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include checkout_log.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

#ifndef LOG_ID
#define LOG_ID "checkout_log_a"
#define LOG_X "A"
#endif

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

typedef struct {
    char log[2048];
} journal;

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    (void)config;
    (void)config_len;
    journal *j = calloc(1, sizeof *j);
    if (j == NULL && error != NULL)
        put(error, "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}", POSD_ERROR);
    return j;
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

/* Whether the request's "code" is `code`. */
static int has_code(const char *request, size_t len, const char *code) {
    json_object *req = parse(request, len);
    const char *value = req != NULL ? string_at(req, "code") : NULL;
    int found = value != NULL && strcmp(value, code) == 0;
    json_object_put(req);
    return found;
}

/* Whether a line of the request's "sale" has the sku `sku`. */
static int has_sku(const char *request, size_t len, const char *sku) {
    json_object *req = parse(request, len);
    json_object *sale, *lines;
    int found = 0;
    if (req != NULL && json_object_object_get_ex(req, "sale", &sale) &&
        json_object_object_get_ex(sale, "lines", &lines) &&
        json_object_is_type(lines, json_type_array)) {
        for (size_t i = 0; !found && i < json_object_array_length(lines); i++) {
            const char *value = string_at(json_object_array_get_idx(lines, i), "sku");
            found = value != NULL && strcmp(value, sku) == 0;
        }
    }
    json_object_put(req);
    return found;
}

static void note(journal *j, const char *event) {
    size_t used = strlen(j->log);
    if (used + strlen(event) + 2 < sizeof j->log) {
        if (used > 0)
            strcat(j->log, " ");
        strcat(j->log, event);
    }
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    journal *j = instance;
    if (!has_code(request, len, "LOG-" LOG_X))
        return put(response, "{\"claimed\":false}", POSD_OK);
    json_object *answer = json_object_new_object();
    if (answer == NULL)
        return put(response, "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}",
                   POSD_ERROR);
    json_object_object_add(answer, "claimed", json_object_new_boolean(1));
    json_object_object_add(answer, "kind", json_object_new_string("coupon"));
    json_object_object_add(answer, "state", json_object_new_string(j->log));
    int32_t status = put(response, json_object_to_json_string(answer), POSD_OK);
    json_object_put(answer);
    return status;
}

static int32_t prepare_checkout(void *instance, const char *request, size_t len,
                                posd_buffer *response) {
    journal *j = instance;
    note(j, "prepare");
    if (has_sku(request, len, "FAIL-" LOG_X))
        return put(response,
                   "{\"error\":\"NotAllowed\",\"message\":\"" LOG_ID " refuses FAIL-" LOG_X
                   "\"}",
                   POSD_ERROR);
    if (has_sku(request, len, "OVERDRAW-" LOG_X))
        return put(response,
                   "{\"postings\":["
                   "{\"account\":\"hole\",\"amount\":\"-1.00\",\"unit\":\"EUR\","
                   "\"kind\":\"test\",\"floor\":\"0\"},"
                   "{\"account\":\"other\",\"amount\":\"1.00\",\"unit\":\"EUR\","
                   "\"kind\":\"test\"}]}",
                   POSD_OK);
    return put(response, "{}", POSD_OK);
}

static int32_t commit_checkout(void *instance, const char *request, size_t len,
                               posd_buffer *response) {
    (void)request;
    (void)len;
    note(instance, "commit");
    return put(response, "{}", POSD_OK);
}

static int32_t abort_checkout(void *instance, const char *request, size_t len,
                              posd_buffer *response) {
    (void)request;
    (void)len;
    note(instance, "abort");
    return put(response, "{}", POSD_OK);
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .classify_code = classify_code,
    .prepare_checkout = prepare_checkout,
    .commit_checkout = commit_checkout,
    .abort_checkout = abort_checkout,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = LOG_ID,
    .name = "Checkout log (test)",
    .version = "1.0.0",
    .description = "Test plugin: logs prepare, commit and abort; refuses or overdraws on cue",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
