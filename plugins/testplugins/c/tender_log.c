/*
 * tender_log.c — test plugin for release_tender (ABI 1.4). It declares the tender method
 * "tab": validate_tender accepts a tab for the amount asked, as ref TAB-<n> with data
 * {"slot": n} (n counts the tabs it authorised), and answers NotFound for any other method,
 * as a plugin does for methods it does not take. release_tender notes each release it hears
 * as "<reason>:<tender id>:<ref>:<slot>" (space-separated, oldest first), with
 * "still-on-sale:<id>" when a removed tender is still in the sale it was shown, and shows
 * the log as the "state" of the code TABLOG (classify_code), so a test sees what it was
 * told through LookupCode.
 * tender_log_13.c is the same plugin as one built for ABI 1.3: id "tender_log_13", method
 * "tab13", code TABLOG13, and a hooks table of POSD_PLUGIN_HOOKS_SIZE_1_1 bytes.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include tender_log.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#include <json-c/json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

#ifndef TL_ID
#define TL_ID "tender_log"
#define TL_METHOD "tab"
#define TL_CODE "TABLOG"
#define TL_ABI_MINOR POSD_ABI_MINOR
#define TL_HOOKS_SIZE POSD_PLUGIN_HOOKS_SIZE_1_4
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
    char log[4096];
    unsigned authorised;
} tabs;

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    (void)config;
    (void)config_len;
    tabs *t = calloc(1, sizeof *t);
    if (t == NULL && error != NULL)
        put(error, "{\"error\":\"PluginFailed\",\"message\":\"out of memory\"}", POSD_ERROR);
    return t;
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

/* The member key of object, or NULL; valid as long as object is. */
static json_object *member(json_object *object, const char *key) {
    json_object *value;
    if (object == NULL || !json_object_object_get_ex(object, key, &value))
        return NULL;
    return value;
}

/* The string under key in object, or "" (never NULL); valid as long as object is. */
static const char *text_at(json_object *object, const char *key) {
    json_object *value = member(object, key);
    if (value == NULL || !json_object_is_type(value, json_type_string))
        return "";
    return json_object_get_string(value);
}

/* Writes answer into response as JSON and gives answer back. */
static int32_t answer_with(posd_buffer *response, json_object *answer) {
    if (answer == NULL)
        return put(response, "{\"error\":\"PluginFailed\",\"message\":\"out of memory\"}",
                   POSD_ERROR);
    int32_t status = put(response, json_object_to_json_string(answer), POSD_OK);
    json_object_put(answer);
    return status;
}

static void note(tabs *t, const char *event) {
    size_t used = strlen(t->log);
    if (used + strlen(event) + 2 < sizeof t->log) {
        if (used > 0)
            strcat(t->log, " ");
        strcat(t->log, event);
    }
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    tabs *t = instance;
    json_object *req = parse(request, len);
    int ours = strcmp(text_at(req, "code"), TL_CODE) == 0;
    json_object_put(req);
    if (!ours)
        return put(response, "{\"claimed\":false}", POSD_OK);
    json_object *answer = json_object_new_object();
    if (answer != NULL) {
        json_object_object_add(answer, "claimed", json_object_new_boolean(1));
        json_object_object_add(answer, "kind", json_object_new_string("coupon"));
        json_object_object_add(answer, "state", json_object_new_string(t->log));
    }
    return answer_with(response, answer);
}

/* Accepts a tender of TL_METHOD for the amount asked; NotFound for any other method. */
static int32_t validate_tender(void *instance, const char *request, size_t len,
                               posd_buffer *response) {
    tabs *t = instance;
    json_object *req = parse(request, len);
    json_object *tender = member(req, "tender");
    if (strcmp(text_at(tender, "method"), TL_METHOD) != 0) {
        json_object_put(req);
        return put(response, "{\"error\":\"NotFound\",\"message\":\"not a " TL_METHOD "\"}",
                   POSD_ERROR);
    }
    char reference[32];
    t->authorised++;
    snprintf(reference, sizeof reference, "TAB-%u", t->authorised);
    json_object *answer = json_object_new_object();
    json_object *data = json_object_new_object();
    if (answer != NULL && data != NULL) {
        json_object_object_add(data, "slot", json_object_new_int((int32_t)t->authorised));
        json_object_object_add(answer, "accepted", json_object_new_boolean(1));
        json_object_object_add(answer, "amount",
                               json_object_new_string(text_at(tender, "amount")));
        json_object_object_add(answer, "ref", json_object_new_string(reference));
        json_object_object_add(answer, "data", data);
        data = NULL;
    }
    json_object_put(data);
    json_object_put(req);
    return answer_with(response, answer);
}

/* Whether the request's sale still holds a tender with this id. */
static int still_on_sale(json_object *req, const char *id) {
    json_object *tenders = member(member(req, "sale"), "tenders");
    if (tenders == NULL || !json_object_is_type(tenders, json_type_array))
        return 0;
    for (size_t i = 0; i < json_object_array_length(tenders); i++) {
        if (strcmp(text_at(json_object_array_get_idx(tenders, i), "id"), id) == 0)
            return 1;
    }
    return 0;
}

static int32_t release_tender(void *instance, const char *request, size_t len,
                              posd_buffer *response) {
    tabs *t = instance;
    json_object *req = parse(request, len);
    json_object *tender = member(req, "tender");
    const char *reason = text_at(req, "reason");
    const char *id = text_at(tender, "id");
    json_object *slot = member(member(tender, "data"), "slot");
    char event[256];
    snprintf(event, sizeof event, "%s:%s:%s:%d", reason, id, text_at(tender, "ref"),
             slot != NULL && json_object_is_type(slot, json_type_int) ? json_object_get_int(slot)
                                                                      : -1);
    note(t, event);
    if (strcmp(reason, "removed") == 0 && still_on_sale(req, id)) {
        snprintf(event, sizeof event, "still-on-sale:%s", id);
        note(t, event);
    }
    json_object_put(req);
    return put(response, "{}", POSD_OK);
}

/*
 * Built for 1.3 (tender_log_13.c), the table declares the 1.1 size: release_tender is set
 * below but lies past struct_size, where a host must not read — as a plugin compiled with
 * the 1.3 header, whose table has no such slot, leaves whatever follows it.
 */
static const posd_plugin_hooks hooks = {
    .struct_size = TL_HOOKS_SIZE,
    .classify_code = classify_code,
    .validate_tender = validate_tender,
    .release_tender = release_tender,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = TL_ABI_MINOR,
    .min_abi_minor = 0,
    .id = TL_ID,
    .name = "Tender log (test)",
    .version = "1.0.0",
    .description = "Test plugin: authorises tabs and logs each release_tender it hears",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
