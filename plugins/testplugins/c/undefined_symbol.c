/*
 * undefined_symbol.c — test plugin that calls a function nobody defines, as a plugin
 * linked against a library that is missing or too old on the till would. gcc -shared links
 * it anyway (a shared library may leave symbols to its loader); the host's dlopen
 * (RTLD_NOW) must refuse it and keep the loader's own reason, "undefined symbol:
 * missing_function", in the plugin's error, the install error and the log.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror -I../../abi/include undefined_symbol.c
 */
#include <stdlib.h>

#include "posd_plugin.h"

/* Declared, never defined: the loader looks for it when the library is loaded. */
int missing_function(void);

static void *create(const posd_host_api *host, const char *config, size_t config_len,
                    posd_buffer *error) {
    static int instance;
    (void)host;
    (void)config;
    (void)config_len;
    (void)error;
    instance = missing_function();
    return &instance;
}

static void destroy(void *instance) {
    (void)instance;
}

static void free_buffer(posd_buffer *buffer) {
    if (buffer != NULL) {
        free(buffer->data);
        buffer->data = NULL;
        buffer->len = 0;
    }
}

static const posd_plugin_hooks hooks = {
    .struct_size = sizeof(posd_plugin_hooks),
};

static const posd_plugin_descriptor descriptor = {
    .struct_size = sizeof(posd_plugin_descriptor),
    .abi_major = POSD_ABI_MAJOR,
    .abi_minor = POSD_ABI_MINOR,
    .min_abi_minor = 0,
    .id = "undefined-symbol",
    .name = "Undefined symbol (test)",
    .version = "1.0.0",
    .description = "Test plugin: needs a function no library defines",
    .create = create,
    .destroy = destroy,
    .free_buffer = free_buffer,
    .hooks = &hooks,
};

const posd_plugin_descriptor *posd_plugin_entry(void) {
    return &descriptor;
}
