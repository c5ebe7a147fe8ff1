/*
 * courier — test plugin for the host's outbox: deliver_message appends the message's key
 * to <inbox>/delivered.log. While the directory <inbox> does not exist the "partner is
 * down": it answers {"delivered": false} and the host must retry later.
 * Configuration: {"inbox": "/absolute/path"} (no escapes in the path).
 */
#include <posd_plugin.h>

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

/* Copies the string value of "key" in json[0..len) into dst; 0 if absent. */
static int string_value(const char *json, size_t len, const char *key, char *dst, size_t cap) {
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\"%s\"", key);
    size_t plen = strlen(pattern);
    for (size_t i = 0; i + plen < len; i++) {
        if (memcmp(json + i, pattern, plen) != 0) continue;
        size_t j = i + plen;
        while (j < len && (json[j] == ' ' || json[j] == ':')) j++;
        if (j >= len || json[j] != '"') return 0;
        j++;
        size_t n = 0;
        while (j < len && json[j] != '"' && n + 1 < cap) dst[n++] = json[j++];
        dst[n] = '\0';
        return j < len;
    }
    return 0;
}

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    courier *c = calloc(1, sizeof *c);
    if (!c || !string_value(config, config_len, "inbox", c->inbox, sizeof c->inbox)) {
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
    if (!string_value(request, len, "key", key, sizeof key)) {
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
