/*
 * wrecker.c — test plugin that misbehaves on purpose, for the daemon's isolation tests: a
 * plugin run in a child process of its own must not take the daemon down, hog its memory
 * or CPU, corrupt its protocol, or reach files and the network it is not allowed to.
 * It implements evaluate_basket only, answering one preview "wrecker saw N lines". When
 * the sale has a line whose "name" is the trigger (default "CRASH") it acts by its mode:
 *   none (default) nothing   segfault  writes through NULL   abort  abort()   exit  exit(0)
 *   loop     spins forever   hog  mallocs and touches 16 MiB blocks without end
 *   garbage  writes 4 KiB of binary junk to fds 1 and 2, then answers normally
 *   close    closes fds 0..1023, then answers normally (the host cannot read it)
 *   open     open(path): preview "open <path>: ok" or "open <path>: <strerror>"
 *   connect  TCP connect to host:port: "connect <host:port>: ok" or ": <strerror>"
 * Configuration: {"mode": "none", "trigger": "CRASH", "path": "", "connect": "host:port"}.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include wrecker.c \
 *        $(pkg-config --cflags --libs json-c)
 */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, strdup */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <netdb.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <unistd.h>

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

/* Serialises value into buffer (compact, "/" unescaped) and gives value back. */
static int32_t put_json(posd_buffer *buffer, json_object *value, int32_t status) {
    if (value == NULL) {
        buffer->data = NULL;
        buffer->len = 0;
        return POSD_ERROR;
    }
    int32_t result = put(
        buffer,
        json_object_to_json_string_ext(value, JSON_C_TO_STRING_PLAIN |
                                                  JSON_C_TO_STRING_NOSLASHESCAPE),
        status);
    json_object_put(value);
    return result;
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

typedef enum {
    MODE_NONE,
    MODE_SEGFAULT,
    MODE_ABORT,
    MODE_EXIT,
    MODE_LOOP,
    MODE_HOG,
    MODE_GARBAGE,
    MODE_CLOSE,
    MODE_OPEN,
    MODE_CONNECT,
} mode;

static const struct {
    const char *name;
    mode mode;
} modes[] = {
    {"none", MODE_NONE},       {"segfault", MODE_SEGFAULT}, {"abort", MODE_ABORT},
    {"exit", MODE_EXIT},       {"loop", MODE_LOOP},         {"hog", MODE_HOG},
    {"garbage", MODE_GARBAGE}, {"close", MODE_CLOSE},       {"open", MODE_OPEN},
    {"connect", MODE_CONNECT},
};

typedef struct {
    mode mode;
    char *trigger;
    char *path;
    char *connect;
} wrecker;

static void destroy(void *instance) {
    wrecker *w = instance;
    if (w != NULL) {
        free(w->trigger);
        free(w->path);
        free(w->connect);
        free(w);
    }
}

/* Writes {"error":"InvalidArgument","message":message} into error, if there is one. */
static void create_error(posd_buffer *error, const char *message) {
    if (error == NULL)
        return;
    json_object *object = json_object_new_object();
    if (object != NULL) {
        json_object_object_add(object, "error", json_object_new_string("InvalidArgument"));
        json_object_object_add(object, "message", json_object_new_string(message));
    }
    put_json(error, object, POSD_ERROR);
}

/* Copies the string under key in cfg (or fallback when absent) into *dst; false with an
 * error message naming the key when it is there but not a string. */
static bool setting(json_object *cfg, const char *key, const char *fallback, char **dst,
                    char *message, size_t cap) {
    json_object *value;
    const char *text = fallback;
    if (cfg != NULL && json_object_object_get_ex(cfg, key, &value)) {
        if (!json_object_is_type(value, json_type_string)) {
            snprintf(message, cap, "%s: must be a string", key);
            return false;
        }
        text = json_object_get_string(value);
    }
    *dst = strdup(text);
    if (*dst == NULL) {
        snprintf(message, cap, "%s: out of memory", key);
        return false;
    }
    return true;
}

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    (void)host;
    char message[256];
    wrecker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        create_error(error, "out of memory");
        return NULL;
    }
    json_object *cfg = NULL;
    if (config != NULL && config_len > 0) {
        cfg = parse(config, config_len);
        if (cfg == NULL || !json_object_is_type(cfg, json_type_object)) {
            json_object_put(cfg);
            destroy(w);
            create_error(error, "configuration: must be a JSON object");
            return NULL;
        }
    }
    char *mode_name = NULL;
    bool ok = setting(cfg, "mode", "none", &mode_name, message, sizeof message) &&
              setting(cfg, "trigger", "CRASH", &w->trigger, message, sizeof message) &&
              setting(cfg, "path", "", &w->path, message, sizeof message) &&
              setting(cfg, "connect", "", &w->connect, message, sizeof message);
    json_object_put(cfg);
    if (ok) {
        ok = false;
        for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
            if (strcmp(mode_name, modes[i].name) == 0) {
                w->mode = modes[i].mode;
                ok = true;
            }
        }
        if (!ok)
            snprintf(message, sizeof message,
                     "mode: unknown mode \"%.64s\" (none, segfault, abort, exit, loop, hog, "
                     "garbage, close, open, connect)",
                     mode_name);
    }
    free(mode_name);
    if (!ok) {
        destroy(w);
        create_error(error, message);
        return NULL;
    }
    return w;
}

/* Stores through NULL; both pointer and pointee volatile so the store really happens. */
static void segfault(void) {
    volatile int *volatile nowhere = NULL;
    *nowhere = 1;
}

/* Never returns. */
static void loop(void) {
    volatile uint64_t counter = 0;
    for (;;)
        counter++;
}

/* Keeps every block reachable, so nothing can optimise the allocations away. */
static void *volatile hoard;

/* Allocates and touches 16 MiB blocks until something stops the process. */
static void hog(void) {
    const size_t block = (size_t)16 << 20;
    unsigned failures = 0;
    for (;;) {
        void **p = malloc(block);
        if (p == NULL) {
            if (++failures >= 1000)
                segfault();
            continue;
        }
        failures = 0;
        memset(p, 0xA5, block);
        p[0] = hoard;
        hoard = p;
    }
}

/* Writes all of data[0..len) to fd, ignoring errors. */
static void write_all(int fd, const unsigned char *data, size_t len) {
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            return;
        }
        data += n;
        len -= (size_t)n;
    }
}

/* 4 KiB of junk: NUL bytes, invalid UTF-8, newlines, half a JSON object. */
static void garbage(void) {
    unsigned char junk[4096];
    uint32_t state = 0x2545F491u;
    for (size_t i = 0; i < sizeof junk; i++) {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        junk[i] = (unsigned char)(state >> 24);
    }
    static const unsigned char spice[] = {0x00, 0xFF, 0xFE, 0xC0, 0x80, '\n', 0xED, 0xA0,
                                          0x80, '\n', '{', '"', 'l', 'i', 'n', 'e',
                                          's', '"', ':', 0x00, 0xF8, 0x88, '\r', '\n'};
    for (size_t at = 0; at + sizeof spice <= sizeof junk; at += 256)
        memcpy(junk + at, spice, sizeof spice);
    write_all(1, junk, sizeof junk);
    write_all(2, junk, sizeof junk);
}

static void close_everything(void) {
    for (int fd = 0; fd < 1024; fd++)
        close(fd);
}

/* "open <path>: ok" or "open <path>: <strerror(errno)>". */
static void try_open(const char *path, char *text, size_t cap) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        int err = errno;
        snprintf(text, cap, "open %s: %s", path, strerror(err));
        return;
    }
    char byte;
    ssize_t n = read(fd, &byte, 1);
    (void)n;
    close(fd);
    snprintf(text, cap, "open %s: ok", path);
}

/* "connect <host:port>: ok" or "connect <host:port>: <error>". */
static void try_connect(const char *target, char *text, size_t cap) {
    char host[256];
    const char *colon = strrchr(target, ':');
    if (colon == NULL || colon[1] == '\0' || (size_t)(colon - target) >= sizeof host) {
        snprintf(text, cap, "connect %s: %s", target, strerror(EINVAL));
        return;
    }
    size_t host_len = (size_t)(colon - target);
    memcpy(host, target, host_len);
    host[host_len] = '\0';
    char *name = host;
    if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') { /* [::1]:80 */
        host[host_len - 1] = '\0';
        name = host + 1;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    struct addrinfo *found = NULL;
    int gai = getaddrinfo(name, colon + 1, &hints, &found);
    if (gai != 0) {
        snprintf(text, cap, "connect %s: %s", target,
                 gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));
        return;
    }
    int err = EADDRNOTAVAIL;
    bool connected = false;
    for (struct addrinfo *a = found; a != NULL && !connected; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            connected = true;
        else
            err = errno;
        close(fd);
    }
    freeaddrinfo(found);
    if (connected)
        snprintf(text, cap, "connect %s: ok", target);
    else
        snprintf(text, cap, "connect %s: %s", target, strerror(err));
}

static int32_t evaluate_basket(void *instance, const char *request, size_t len,
                               posd_buffer *response) {
    wrecker *w = instance;
    json_object *req = parse(request, len);
    json_object *sale, *lines;
    size_t count = 0;
    bool triggered = false;
    if (req != NULL && json_object_object_get_ex(req, "sale", &sale) &&
        json_object_object_get_ex(sale, "lines", &lines) &&
        json_object_is_type(lines, json_type_array)) {
        count = json_object_array_length(lines);
        for (size_t i = 0; i < count; i++) {
            const char *name = string_at(json_object_array_get_idx(lines, i), "name");
            if (w != NULL && name != NULL && strcmp(name, w->trigger) == 0)
                triggered = true;
        }
    }
    json_object_put(req);

    char text[1200];
    snprintf(text, sizeof text, "wrecker saw %zu lines", count);
    if (triggered) {
        switch (w->mode) {
        case MODE_NONE:
            break;
        case MODE_SEGFAULT:
            segfault();
            break;
        case MODE_ABORT:
            abort();
        case MODE_EXIT:
            exit(0);
        case MODE_LOOP:
            loop();
            break;
        case MODE_HOG:
            hog();
            break;
        case MODE_GARBAGE:
            garbage();
            break;
        case MODE_CLOSE:
            close_everything();
            break;
        case MODE_OPEN:
            try_open(w->path, text, sizeof text);
            break;
        case MODE_CONNECT:
            try_connect(w->connect, text, sizeof text);
            break;
        }
    }

    json_object *answer = json_object_new_object();
    json_object *previews = json_object_new_array();
    json_object *preview = json_object_new_object();
    if (answer == NULL || previews == NULL || preview == NULL) {
        json_object_put(answer);
        json_object_put(previews);
        json_object_put(preview);
        return put(response, "{\"error\":\"PluginFailed\",\"message\":\"out of memory\"}",
                   POSD_ERROR);
    }
    json_object_object_add(preview, "kind", json_object_new_string("info"));
    json_object_object_add(preview, "label", json_object_new_string(text));
    json_object_array_add(previews, preview);
    json_object_object_add(answer, "lines", json_object_new_array());
    json_object_object_add(answer, "previews", previews);
    return put_json(response, answer, POSD_OK);
}

/* Built as for ABI 1.0: the 1.0 hooks table, without the 1.1 admin action hooks. */
static const posd_plugin_hooks hooks = {
    .struct_size = POSD_PLUGIN_HOOKS_SIZE_1_0,
    .evaluate_basket = evaluate_basket,
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = POSD_PLUGIN_DESCRIPTOR_SIZE_1_0,
    .abi_major = 1,
    .abi_minor = 0,
    .min_abi_minor = 0,
    .id = "wrecker",
    .name = "Wrecker (test)",
    .version = "1.0.0",
    .description = "Test plugin: crashes, hangs, hogs or meddles when a trigger line is sold",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
