/*
 * hello_c.c — the example posd plugin in plain C11.
 *
 * Claims codes starting with "HELLOC-" (any case) as customer cards: classify_code says
 * so, enter_code puts the rest of the code on the sale as its customer and greets them.
 * Offers the action "greet" with one required string parameter "name". The greeting word
 * comes from the optional configuration key "greeting" (default "Hallo").
 *
 * Everything the host passes is untrusted bytes with a length (not NUL-terminated), so
 * this file reads JSON with a small bounds-checked scanner that understands exactly as much
 * as it needs: find a key at the top level of an object, read a string value. It writes
 * JSON into a growing buffer that escapes every string it copies. Build with `make`.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "posd_plugin.h"

#define PREFIX "HELLOC-"
#define DEFAULT_GREETING "Hallo"
#define MAX_GREETING 64 /* bytes, with the NUL */
#define MAX_TEXT 256    /* longest code rest or name we accept, with the NUL */
#define MAX_DEPTH 64    /* JSON nesting we are willing to skip over */

/* ---------- reading JSON ---------- */

/* A span of the input: [p, end). Never read at or past end. */
typedef struct {
    const char *p;
    const char *end;
} span;

static void skip_ws(span *s) {
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

/* Skips a string starting at '"'; false if it is not terminated. */
static bool skip_string(span *s) {
    if (s->p >= s->end || *s->p != '"')
        return false;
    s->p++;
    while (s->p < s->end) {
        char c = *s->p++;
        if (c == '"')
            return true;
        if (c == '\\') {
            if (s->p >= s->end)
                return false;
            s->p++;
        }
    }
    return false;
}

/* Skips any JSON value; false on malformed input or nesting deeper than MAX_DEPTH. */
static bool skip_value(span *s, int depth) {
    if (depth > MAX_DEPTH)
        return false;
    skip_ws(s);
    if (s->p >= s->end)
        return false;
    char c = *s->p;
    if (c == '"')
        return skip_string(s);
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return true;
        }
        for (;;) {
            if (c == '{') {
                skip_ws(s);
                if (!skip_string(s))
                    return false;
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':')
                    return false;
                s->p++;
            }
            if (!skip_value(s, depth + 1))
                return false;
            skip_ws(s);
            if (s->p >= s->end)
                return false;
            if (*s->p == ',') {
                s->p++;
                continue;
            }
            if (*s->p == close) {
                s->p++;
                return true;
            }
            return false;
        }
    }
    /* number, true, false, null: a run of the characters they are made of */
    const char *start = s->p;
    while (s->p < s->end && strchr("+-.0123456789abcdefilnrstuE", *s->p) != NULL)
        s->p++;
    return s->p > start;
}

/* Compares the JSON string at s (starting at '"') with key, without escapes in key. */
static bool string_equals(span s, const char *key) {
    size_t n = strlen(key);
    return (size_t)(s.end - s.p) >= n + 2 && s.p[0] == '"' && memcmp(s.p + 1, key, n) == 0 &&
           s.p[n + 1] == '"';
}

/*
 * Finds key at the top level of the JSON object in s; on success *value spans its value.
 * Returns false if s is not a well-formed object up to the key, or the key is absent.
 */
static bool find_key(span s, const char *key, span *value) {
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '{')
        return false;
    s.p++;
    skip_ws(&s);
    if (s.p < s.end && *s.p == '}')
        return false;
    for (;;) {
        skip_ws(&s);
        span name = s;
        if (!skip_string(&s))
            return false;
        bool match = string_equals((span){name.p, s.p}, key);
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':')
            return false;
        s.p++;
        skip_ws(&s);
        span start = s;
        if (!skip_value(&s, 1))
            return false;
        if (match) {
            *value = (span){start.p, s.p};
            return true;
        }
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ',')
            return false;
        s.p++;
    }
}

static int hex_digit(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes the JSON string value v into out (NUL-terminated, at most size - 1 bytes).
 * Returns false if v is not a string, is malformed, holds a NUL, or does not fit.
 * \u escapes outside the Basic Multilingual Plane and lone surrogates are refused: nothing
 * this plugin reads needs them.
 */
static bool read_string(span v, char *out, size_t size) {
    size_t n = 0;
    if (v.p >= v.end || *v.p != '"' || size == 0)
        return false;
    v.p++;
    while (v.p < v.end) {
        unsigned char c = (unsigned char)*v.p++;
        unsigned long code;
        if (c == '"') {
            out[n] = '\0';
            return true;
        }
        if (c < 0x20)
            return false;
        if (c != '\\') {
            if (n + 1 >= size)
                return false;
            out[n++] = (char)c;
            continue;
        }
        if (v.p >= v.end)
            return false;
        switch (*v.p++) {
        case '"': code = '"'; break;
        case '\\': code = '\\'; break;
        case '/': code = '/'; break;
        case 'b': code = '\b'; break;
        case 'f': code = '\f'; break;
        case 'n': code = '\n'; break;
        case 'r': code = '\r'; break;
        case 't': code = '\t'; break;
        case 'u':
            if (v.end - v.p < 4)
                return false;
            code = 0;
            for (int i = 0; i < 4; i++) {
                int d = hex_digit(*v.p++);
                if (d < 0)
                    return false;
                code = code * 16 + (unsigned long)d;
            }
            if (code == 0 || (code >= 0xD800 && code <= 0xDFFF))
                return false;
            break;
        default:
            return false;
        }
        /* UTF-8 encode code (at most U+FFFF). */
        unsigned char bytes[3];
        size_t len;
        if (code < 0x80) {
            bytes[0] = (unsigned char)code;
            len = 1;
        } else if (code < 0x800) {
            bytes[0] = (unsigned char)(0xC0 | (code >> 6));
            bytes[1] = (unsigned char)(0x80 | (code & 0x3F));
            len = 2;
        } else {
            bytes[0] = (unsigned char)(0xE0 | (code >> 12));
            bytes[1] = (unsigned char)(0x80 | ((code >> 6) & 0x3F));
            bytes[2] = (unsigned char)(0x80 | (code & 0x3F));
            len = 3;
        }
        if (n + len >= size)
            return false;
        memcpy(out + n, bytes, len);
        n += len;
    }
    return false;
}

/* ---------- writing JSON ---------- */

/* A growing output buffer; ok turns false on the first failed allocation. */
typedef struct {
    char *data;
    size_t len;
    size_t cap;
    bool ok;
} out_buf;

static void put_bytes(out_buf *b, const char *text, size_t n) {
    if (!b->ok)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n)
            cap *= 2;
        char *data = realloc(b->data, cap);
        if (data == NULL) {
            b->ok = false;
            return;
        }
        b->data = data;
        b->cap = cap;
    }
    memcpy(b->data + b->len, text, n);
    b->len += n;
}

static void put(out_buf *b, const char *text) {
    put_bytes(b, text, strlen(text));
}

/* Writes text as a JSON string, quotes included. */
static void put_string(out_buf *b, const char *text) {
    put(b, "\"");
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            char esc[2] = {'\\', (char)*c};
            put_bytes(b, esc, 2);
        } else if (*c < 0x20) {
            char esc[7];
            snprintf(esc, sizeof esc, "\\u%04x", *c);
            put(b, esc);
        } else {
            put_bytes(b, (const char *)c, 1);
        }
    }
    put(b, "\"");
}

/*
 * Hands the finished buffer to the host as the response and returns status. If building
 * it ran out of memory, answers with a fixed error instead (static text copied with
 * malloc, so free_buffer can free every response alike).
 */
static int32_t finish(out_buf *b, int32_t status, posd_buffer *response) {
    if (!b->ok || b->len == 0) {
        static const char oom[] = "{\"error\":\"InvalidArgument\",\"message\":\"out of memory\"}";
        free(b->data);
        response->data = malloc(sizeof oom - 1);
        response->len = response->data ? sizeof oom - 1 : 0;
        if (response->data)
            memcpy(response->data, oom, sizeof oom - 1);
        return POSD_ERROR;
    }
    response->data = b->data;
    response->len = b->len;
    return status;
}

/* Answers POSD_ERROR with {"error": name, "message": message}. */
static int32_t fail(posd_buffer *response, const char *name, const char *message) {
    out_buf b = {.ok = true};
    put(&b, "{\"error\":");
    put_string(&b, name);
    put(&b, ",\"message\":");
    put_string(&b, message);
    put(&b, "}");
    return finish(&b, POSD_ERROR, response);
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
static bool our_code(span request, char *rest, size_t size) {
    char code[MAX_TEXT];
    span value;
    size_t n = strlen(PREFIX);
    if (!find_key(request, "code", &value) || !read_string(value, code, sizeof code))
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = code[i]; /* stops at the NUL of a short code: it differs from PREFIX */
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c != PREFIX[i])
            return false;
    }
    if (strlen(code + n) + 1 > size)
        return false;
    memcpy(rest, code + n, strlen(code + n) + 1);
    return true;
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

    span cfg = {config, config ? config + config_len : NULL};
    span value;
    if (config != NULL && find_key(cfg, "greeting", &value) &&
        !read_string(value, h->greeting, sizeof h->greeting)) {
        if (error)
            fail(error, "InvalidConfiguration",
                 "greeting must be a string of at most 63 bytes");
        free(h);
        return NULL;
    }
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
    out_buf b = {.ok = true};
    if (request == NULL || !our_code((span){request, request + len}, rest, sizeof rest)) {
        put(&b, "{\"claimed\":false}");
    } else {
        put(&b, "{\"claimed\":true,\"kind\":\"customer_card\",\"customer\":");
        put_string(&b, rest);
        put(&b, "}");
    }
    return finish(&b, POSD_OK, response);
}

static int32_t enter_code(void *instance, const char *request, size_t len,
                          posd_buffer *response) {
    const hello *h = instance;
    char rest[MAX_TEXT];
    if (response == NULL)
        return POSD_ERROR;
    if (h == NULL || request == NULL)
        return fail(response, "InvalidArgument", "no instance or request");
    out_buf b = {.ok = true};
    if (!our_code((span){request, request + len}, rest, sizeof rest)) {
        put(&b, "{\"claimed\":false}");
        return finish(&b, POSD_OK, response);
    }
    if (rest[0] == '\0')
        return fail(response, "InvalidArgument", "HELLOC- code without a customer number");
    char message[MAX_GREETING + MAX_TEXT + 4];
    snprintf(message, sizeof message, "%s, %s!", h->greeting, rest);
    put(&b, "{\"claimed\":true,\"kind\":\"customer_card\",\"set_customer\":");
    put_string(&b, rest);
    put(&b, ",\"message\":");
    put_string(&b, message);
    put(&b, "}");
    return finish(&b, POSD_OK, response);
}

static int32_t list_actions(void *instance, const char *request, size_t len,
                            posd_buffer *response) {
    (void)instance;
    (void)request;
    (void)len;
    if (response == NULL)
        return POSD_ERROR;
    out_buf b = {.ok = true};
    put(&b, "{\"actions\":[{\"id\":\"greet\",\"label\":\"Gr\\u00fc\\u00dfen\",\"params\":"
            "[{\"name\":\"name\",\"type\":\"string\",\"required\":true}]}]}");
    return finish(&b, POSD_OK, response);
}

static int32_t invoke_action(void *instance, const char *request, size_t len,
                             posd_buffer *response) {
    const hello *h = instance;
    if (response == NULL)
        return POSD_ERROR;
    if (h == NULL || request == NULL)
        return fail(response, "InvalidArgument", "no instance or request");
    span req = {request, request + len};
    span value, args;
    char action[MAX_TEXT], name[MAX_TEXT];
    if (!find_key(req, "action", &value) || !read_string(value, action, sizeof action))
        return fail(response, "InvalidArgument", "request has no action");
    if (strcmp(action, "greet") != 0)
        return fail(response, "NotFound", "hello-c has only the action greet");
    if (!find_key(req, "args", &args) || !find_key(args, "name", &value) ||
        !read_string(value, name, sizeof name) || name[0] == '\0')
        return fail(response, "InvalidArgument", "greet needs a name (a non-empty string)");

    char greeting[MAX_GREETING + MAX_TEXT + 2];
    snprintf(greeting, sizeof greeting, "%s %s", h->greeting, name);
    out_buf b = {.ok = true};
    put(&b, "{\"message\":");
    put_string(&b, greeting);
    put(&b, ",\"result\":{\"greeting\":");
    put_string(&b, greeting);
    put(&b, "}}");
    return finish(&b, POSD_OK, response);
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
