/*
 * no_entry.c — test "plugin" that does not export posd_plugin_entry, only some other
 * function. The host must refuse it, naming the missing symbol.
 * Build: gcc -shared -fPIC -std=c11 -Wall -Werror no_entry.c
 */
int posd_not_the_entry(void);

int posd_not_the_entry(void) {
    return 42;
}
