/* main() for the fuzz harnesses without libFuzzer: replays every file named on the
 * command line, and every regular file under the directories named there (recursively,
 * in name order), through LLVMFuzzerTestOneInput, then prints how many it replayed.
 * Exits 1 if nothing was replayed, 2 if a path cannot be read; a crash, a sanitizer
 * report or a violated invariant ends the process (the input's path is printed first). */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#if defined(__SANITIZE_ADDRESS__)
#define FUZZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FUZZ_ASAN 1
#endif
#endif

#ifdef FUZZ_ASAN
void __sanitizer_set_death_callback(void (*callback)(void));
#endif

/* the input being replayed, for the crash message; set by main() only */
static const char *volatile current;

static void say_current(void)
{
    const char *c = current;

    if (c) {
        static const char pre[] = "\n*** crashing input: ";
        if (write(2, pre, sizeof(pre) - 1) < 0 || write(2, c, strlen(c)) < 0
            || write(2, "\n", 1) < 0) {
            /* nothing more to do */
        }
    }
}

static void on_signal(int sig)
{
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int replay_file(const char *path, long *count)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf;
    long size;

    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        fprintf(stderr, "%s: cannot size\n", path);
        fclose(f);
        return -1;
    }
    /* exactly size bytes, as libFuzzer hands them over: a read past the end is seen */
    buf = malloc(size ? (size_t)size : 1);
    if (!buf || (size && fread(buf, 1, (size_t)size, f) != (size_t)size)) {
        fprintf(stderr, "%s: cannot read\n", path);
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    current = path;
    LLVMFuzzerTestOneInput(buf, (size_t)size);
    current = NULL;
    free(buf);
    ++*count;
    return 0;
}

static int replay_path(const char *path, long *count)
{
    struct stat st;
    struct dirent **names;
    int n, i, rc = 0;

    if (stat(path, &st) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        return replay_file(path, count);
    }
    n = scandir(path, &names, NULL, alphasort);
    if (n < 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && rc == 0) {
            size_t len = strlen(path) + strlen(names[i]->d_name) + 2;
            char *sub = malloc(len);
            if (!sub) {
                rc = -1;
            }
            else {
                snprintf(sub, len, "%s/%s", path, names[i]->d_name);
                rc = replay_path(sub, count);
                free(sub);
            }
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int main(int argc, char **argv)
{
    const char *prog = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
    long count = 0;
    int i;

#ifdef FUZZ_ASAN
    __sanitizer_set_death_callback(say_current);
#else
    signal(SIGSEGV, on_signal);
    signal(SIGBUS, on_signal);
    signal(SIGFPE, on_signal);
    signal(SIGILL, on_signal);
#endif
    signal(SIGABRT, on_signal);

    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", prog);
        return 2;
    }
    LLVMFuzzerInitialize(&argc, &argv);
    for (i = 1; i < argc; i++) {
        if (replay_path(argv[i], &count) != 0) {
            return 2;
        }
    }
    printf("%s: replayed %ld inputs\n", prog, count);
    fflush(stdout);
    if (count == 0) {
        fprintf(stderr, "%s: no input to replay\n", prog);
        return 1;
    }
    return 0;
}
