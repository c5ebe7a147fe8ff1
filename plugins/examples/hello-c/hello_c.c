/*
 * hello_c.c — the example posd plugin in plain C11, reading and writing JSON with json-c
 * (Debian package libjson-c-dev).
 *
 * Claims codes starting with "HELLOC-" (any case) as customer cards: classify_code says
 * so, enter_code puts the rest of the code on the sale as its customer and greets them.
 * Offers the action "greet" with one required string parameter "name". The greeting word
 * comes from the optional configuration key "greeting" (default "Hallo").
 *
 * Everything the host passes is untrusted bytes with a length (not NUL-terminated): json-c
 * parses exactly that many bytes, strictly, as UTF-8, to a bounded depth, and this file
 * then asks the parsed object for the keys it needs and checks their types. Answers are
 * built as json-c objects, so every string is escaped by the library.
 *
 * Build with `make` (it asks pkg-config for json-c's flags).
 */
#include <json-c/json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

#define PREFIX "HELLOC-"
#define DEFAULT_GREETING "Hallo"
#define MAX_GREETING 64 /* bytes, with the NUL */
#define MAX_TEXT 256    /* longest code or name we accept, with the NUL */
#define MAX_DEPTH 64    /* JSON nesting we are willing to parse */

/* ---------- reading JSON ---------- */

/*
 * The JSON object in text[0..len), or NULL if the bytes are not exactly one well-formed
 * object (malformed, truncated, nested deeper than MAX_DEPTH, not UTF-8, another type, or
 * followed by anything but white space). Give it back with json_object_put.
 */
static json_object *parse_object(const char *text, size_t len) {
    if (text == NULL || len > INT32_MAX)
        return NULL;
    json_tokener *tok = json_tokener_new_ex(MAX_DEPTH);
    if (tok == NULL)
        return NULL;
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *value = json_tokener_parse_ex(tok, text, (int)len);
    size_t end = json_tokener_get_parse_end(tok);
    bool complete = json_tokener_get_error(tok) == json_tokener_success;
    json_tokener_free(tok);
    while (complete && end < len && strchr(" \t\r\n", text[end]) != NULL)
        end++;
    if (!complete || end != len || !json_object_is_type(value, json_type_object)) {
        json_object_put(value);
        return NULL;
    }
    return value;
}

/*
 * The string under key in object, or NULL if it is absent, not a string, holds a NUL byte
 * or is not shorter than size bytes. Valid as long as object is.
 */
static const char *string_at(json_object *object, const char *key, size_t size) {
    json_object *value;
    if (!json_object_object_get_ex(object, key, &value) ||
        !json_object_is_type(value, json_type_string))
        return NULL;
    const char *text = json_object_get_string(value);
    size_t len = (size_t)json_object_get_string_len(value);
    if (strlen(text) != len || len >= size)
        return NULL;
    return text;
}

/* ---------- writing JSON ---------- */

/* Adds key: text to object; false if memory ran out. */
static bool add_string(json_object *object, const char *key, const char *text) {
    json_object *value = json_object_new_string(text);
    if (value == NULL || json_object_object_add(object, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

/* Adds key: value (true or false) to object; false if memory ran out. */
static bool add_bool(json_object *object, const char *key, bool flag) {
    json_object *value = json_object_new_boolean(flag);
    if (value == NULL || json_object_object_add(object, key, value) != 0) {
        json_object_put(value);
        return false;
    }
    return true;
}

/*
 * Hands object to the host as the response (a malloc'ed copy of its text, freed by
 * free_buffer) and gives the object back to json-c. If building it ran out of memory
 * (ok is false, or object is NULL), answers with a fixed error instead.
 */
static int32_t finish(json_object *object, bool ok, int32_t status, posd_buffer *response) {
    size_t len = 0;
    const char *text = NULL;
    if (ok && object != NULL)
        text = json_object_to_json_string_length(
            object, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    char *copy = text != NULL ? malloc(len) : NULL;
    if (copy == NULL) {
        static const char oom[] = "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}";
        json_object_put(object);
        response->data = malloc(sizeof oom - 1);
        response->len = response->data ? sizeof oom - 1 : 0;
        if (response->data)
            memcpy(response->data, oom, sizeof oom - 1);
        return POSD_ERROR;
    }
    memcpy(copy, text, len);
    json_object_put(object);
    response->data = copy;
    response->len = len;
    return status;
}

/* Answers POSD_ERROR with {"error": name, "message": message}. */
static int32_t fail(posd_buffer *response, const char *name, const char *message) {
    json_object *error = json_object_new_object();
    bool ok = error != NULL && add_string(error, "error", name) &&
              add_string(error, "message", message);
    return finish(error, ok, POSD_ERROR, response);
}

/* ---------- the plugin ---------- */

typedef struct {
    const posd_host_api *host;
    char greeting[MAX_GREETING];
} hello;

static void log_line(const hello *h, int32_t level, const char *message) {
    if (h->host->log != NULL)
        h->host->log(h->host->host, level, message, strlen(message));
}

/* If the request's "code" is one of ours, copies what follows the prefix into rest. */
static bool our_code(const char *request, size_t len, char rest[MAX_TEXT]) {
    json_object *req = parse_object(request, len);
    const char *code = req != NULL ? string_at(req, "code", MAX_TEXT) : NULL;
    bool ours = code != NULL;
    for (size_t i = 0; ours && i < strlen(PREFIX); i++) {
        char c = code[i]; /* stops at the NUL of a short code: it differs from PREFIX */
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        ours = c == PREFIX[i];
    }
    if (ours)
        strcpy(rest, code + strlen(PREFIX)); /* fits: code is shorter than MAX_TEXT */
    json_object_put(req);
    return ours;
}

static void *hello_create(const posd_host_api *host, const char *config, size_t config_len,
                          posd_buffer *error) {
    if (host == NULL || host->struct_size < POSD_HOST_API_SIZE_1_0 ||
        host->abi_major != POSD_ABI_MAJOR) {
        if (error)
            fail(error, "InvalidArgument", "hello-c needs a host_api of ABI 1.x");
        return NULL;
    }
    hello *h = calloc(1, sizeof *h);
    if (h == NULL) {
        if (error)
            fail(error, "InvalidArgument", "out of memory");
        return NULL;
    }
    h->host = host;
    strcpy(h->greeting, DEFAULT_GREETING);

    /* A configuration that is no JSON object at all leaves the default in place. */
    json_object *cfg = parse_object(config, config_len);
    if (cfg != NULL && json_object_object_get_ex(cfg, "greeting", NULL)) {
        const char *greeting = string_at(cfg, "greeting", sizeof h->greeting);
        if (greeting == NULL) {
            json_object_put(cfg);
            if (error)
                fail(error, "InvalidConfiguration",
                     "greeting must be a string of at most 63 bytes");
            free(h);
            return NULL;
        }
        strcpy(h->greeting, greeting);
    }
    json_object_put(cfg);
    char line[MAX_GREETING + 32];
    snprintf(line, sizeof line, "hello-c ready, greeting \"%s\"", h->greeting);
    log_line(h, POSD_LOG_INFO, line);
    return h;
}

static void hello_destroy(void *instance) {
    free(instance);
}

static void hello_free_buffer(posd_buffer *buffer) {
    if (buffer == NULL)
        return;
    free(buffer->data);
    buffer->data = NULL;
    buffer->len = 0;
}

static int32_t classify_code(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    (void)instance;
    char rest[MAX_TEXT];
    if (response == NULL)
        return POSD_ERROR;
    json_object *answer = json_object_new_object();
    bool ok = answer != NULL;
    if (!our_code(request, len, rest)) {
        ok = ok && add_bool(answer, "claimed", false);
    } else {
        ok = ok && add_bool(answer, "claimed", true) &&
             add_string(answer, "kind", "customer_card") && add_string(answer, "customer", rest);
    }
    return finish(answer, ok, POSD_OK, response);
}

static int32_t enter_code(void *instance, const char *request, size_t len,
                          posd_buffer *response) {
    const hello *h = instance;
    char rest[MAX_TEXT];
    if (response == NULL)
        return POSD_ERROR;
    if (h == NULL || request == NULL)
        return fail(response, "InvalidArgument", "no instance or request");
    json_object *answer = json_object_new_object();
    bool ok = answer != NULL;
    if (!our_code(request, len, rest)) {
        ok = ok && add_bool(answer, "claimed", false);
        return finish(answer, ok, POSD_OK, response);
    }
    if (rest[0] == '\0') {
        json_object_put(answer);
        return fail(response, "InvalidArgument", "HELLOC- code without a customer number");
    }
    char message[MAX_GREETING + MAX_TEXT + 4];
    snprintf(message, sizeof message, "%s, %s!", h->greeting, rest);
    ok = ok && add_bool(answer, "claimed", true) &&
         add_string(answer, "kind", "customer_card") &&
         add_string(answer, "set_customer", rest) && add_string(answer, "message", message);
    return finish(answer, ok, POSD_OK, response);
}

static int32_t list_actions(void *instance, const char *request, size_t len,
                            posd_buffer *response) {
    (void)instance;
    (void)request;
    (void)len;
    if (response == NULL)
        return POSD_ERROR;
    /* A fixed answer: json-c parses it once per call, and finish() copies it out. */
    static const char actions[] =
        "{\"actions\":[{\"id\":\"greet\",\"label\":\"Gr\\u00fc\\u00dfen\",\"params\":"
        "[{\"name\":\"name\",\"type\":\"string\",\"required\":true}]}]}";
    return finish(json_tokener_parse(actions), true, POSD_OK, response);
}

static int32_t invoke_action(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    const hello *h = instance;
    if (response == NULL)
        return POSD_ERROR;
    if (h == NULL || request == NULL)
        return fail(response, "InvalidArgument", "no instance or request");
    json_object *req = parse_object(request, len);
    const char *action = req != NULL ? string_at(req, "action", MAX_TEXT) : NULL;
    if (action == NULL) {
        json_object_put(req);
        return fail(response, "InvalidArgument", "request has no action");
    }
    if (strcmp(action, "greet") != 0) {
        json_object_put(req);
        return fail(response, "NotFound", "hello-c has only the action greet");
    }
    json_object *args;
    const char *name = NULL;
    if (json_object_object_get_ex(req, "args", &args) &&
        json_object_is_type(args, json_type_object))
        name = string_at(args, "name", MAX_TEXT);
    if (name == NULL || name[0] == '\0') {
        json_object_put(req);
        return fail(response, "InvalidArgument", "greet needs a name (a non-empty string)");
    }
    char greeting[MAX_GREETING + MAX_TEXT + 2];
    snprintf(greeting, sizeof greeting, "%s %s", h->greeting, name);
    json_object_put(req); /* name pointed into it: not used past here */

    json_object *answer = json_object_new_object();
    json_object *result = json_object_new_object();
    bool ok = answer && result && add_string(result, "greeting", greeting) &&
              add_string(answer, "message", greeting) &&
              json_object_object_add(answer, "result", result) == 0;
    if (!ok)
        json_object_put(result);
    return finish(answer, ok, POSD_OK, response);
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
    .classify_code = classify_code,
    .enter_code = enter_code,
    .list_actions = list_actions,
    .invoke_action = invoke_action,
    /* every other hook stays NULL: the host skips this plugin there */
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = "hello-c",
    .name = "Hello (C)",
    .version = "1.0.0",
    .description = "Example: HELLOC- customer cards and a greet action, in plain C",
    .create = hello_create,
    .destroy = hello_destroy,
    .free_buffer = hello_free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
