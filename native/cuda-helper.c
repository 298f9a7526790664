/*
 * snapback-cuda-helper [--lib PATH]: the CUDA driver's checkpoint API (cuCheckpointProcess*, CUDA >= 12.8,
 * driver >= 570) for many processes, over one long-lived process.
 *
 * Every run of NVIDIA's cuda-checkpoint initialises CUDA before it acts, which costs seconds; a checkpoint
 * that leaves the workload running takes four runs per process (lock, checkpoint, restore, unlock). This
 * helper loads libcuda.so.1 at run time (no CUDA headers or toolkit needed to build it), calls cuInit once,
 * and then serves the agent for as long as the agent lives.
 *
 * Protocol (text lines on stdin/stdout; src/lib/cuda/helper-connection.ts is the other end):
 *   first line, unasked:  snapback-cuda-helper 1 ready CUDA_VERSION LIBRARY_PATH
 *                     or  snapback-cuda-helper 1 unavailable REASON…   (then it exits with status 3)
 *   request:   ID VERB PID [ARG]       ID: the caller's number, echoed back; VERB and ARG:
 *              state                   → cuCheckpointProcessGetState; answers the CUprocessState number
 *              lock TIMEOUT_MS         → cuCheckpointProcessLock (0: wait without limit)
 *              checkpoint              → cuCheckpointProcessCheckpoint
 *              restore [OLD:NEW,…]     → cuCheckpointProcessRestore, with GPU pairs given as 32 hex digits
 *                                        per CUuuid (the caller turns GPU-… UUIDs into those)
 *              unlock                  → cuCheckpointProcessUnlock
 *              restore-tid             → cuCheckpointProcessGetRestoreThreadId; answers the thread id
 *   answer:    ID ok [VALUE]
 *              ID error NAME MESSAGE…  NAME is the driver's own (cuGetErrorName, e.g. CUDA_ERROR_ILLEGAL_STATE)
 *                                      or BAD_REQUEST for a line this helper cannot read
 *
 * Every request runs in a thread of its own, so a lock waiting on one process never holds up another:
 * requests for different PIDs run in parallel, as the agent's separate cuda-checkpoint runs did. Requests
 * for the *same* PID run one after the other, in the order they arrived: a caller that gave up waiting on a
 * lock and asks for the state next is answered once the lock has settled, never in the middle of it.
 * End of input (the agent closed it) ends the helper once the requests in flight are answered; the death of
 * the agent ends it at once (PR_SET_PDEATHSIG), as it would end a cuda-checkpoint run.
 *
 * The argument structures follow the CUDA Driver API reference, "CUDA Checkpointing": each is 64 bytes and
 * must be zeroed apart from the fields used. CUcheckpointRestoreArgs has had several layouts (12.8/12.9: all
 * reserved; 13.x: gpuPairs, gpuPairsCount, then reserved space), but gpuPairs and gpuPairsCount have kept
 * offsets 0 and 8 wherever they exist, so the one layout below serves every version; drivers that predate
 * GPU pairs are only ever sent zeroes (a restore without a device map).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PROTOCOL "snapback-cuda-helper 1"
#define EXIT_UNAVAILABLE 3
/* A process on more GPUs than this is beyond any node snapback knows of. */
#define MAX_GPU_PAIRS 64
#define MAX_LINE 4096

typedef int CUresult;
#define CUDA_SUCCESS 0

typedef struct {
  unsigned char bytes[16];
} CUuuid;

typedef struct {
  CUuuid oldUuid;
  CUuuid newUuid;
} CUcheckpointGpuPair;

typedef struct {
  unsigned int timeoutMs;
  unsigned int reserved0;
  uint64_t reserved1[7];
} CUcheckpointLockArgs;

/* CUcheckpointCheckpointArgs and CUcheckpointUnlockArgs: nothing but reserved space. */
typedef struct {
  uint64_t reserved[8];
} CUcheckpointReservedArgs;

typedef struct {
  CUcheckpointGpuPair *gpuPairs;
  unsigned int gpuPairsCount;
  char reserved[52 - sizeof(CUcheckpointGpuPair *)];
  uint64_t reserved1;
} CUcheckpointRestoreArgs;

_Static_assert(sizeof(CUuuid) == 16, "CUuuid is 16 bytes");
_Static_assert(sizeof(CUcheckpointLockArgs) == 64, "lock args are 64 bytes");
_Static_assert(sizeof(CUcheckpointReservedArgs) == 64, "checkpoint/unlock args are 64 bytes");
_Static_assert(sizeof(CUcheckpointRestoreArgs) == 64, "restore args are 64 bytes");

static struct {
  CUresult (*init)(unsigned int flags);
  CUresult (*driverGetVersion)(int *version);
  CUresult (*getErrorName)(CUresult error, const char **name);
  CUresult (*getErrorString)(CUresult error, const char **text);
  CUresult (*getState)(int pid, int *state);
  CUresult (*lock)(int pid, CUcheckpointLockArgs *args);
  CUresult (*checkpoint)(int pid, CUcheckpointReservedArgs *args);
  CUresult (*restore)(int pid, CUcheckpointRestoreArgs *args);
  CUresult (*unlock)(int pid, CUcheckpointReservedArgs *args);
  CUresult (*getRestoreThreadId)(int pid, int *tid);
} cu;

static const struct {
  const char *name;
  void **slot;
} symbols[] = {
  {"cuInit", (void **)&cu.init},
  {"cuDriverGetVersion", (void **)&cu.driverGetVersion},
  {"cuGetErrorName", (void **)&cu.getErrorName},
  {"cuGetErrorString", (void **)&cu.getErrorString},
  {"cuCheckpointProcessGetState", (void **)&cu.getState},
  {"cuCheckpointProcessLock", (void **)&cu.lock},
  {"cuCheckpointProcessCheckpoint", (void **)&cu.checkpoint},
  {"cuCheckpointProcessRestore", (void **)&cu.restore},
  {"cuCheckpointProcessUnlock", (void **)&cu.unlock},
  {"cuCheckpointProcessGetRestoreThreadId", (void **)&cu.getRestoreThreadId},
};

/* ---- answers: one write per line, so that threads never interleave ------------------------------------ */

static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;

static void answer(const char *fmt, ...) {
  char line[MAX_LINE];
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(line, sizeof line - 1, fmt, ap);
  va_end(ap);
  if (len < 0) return;
  if ((size_t)len > sizeof line - 2) len = sizeof line - 2;
  /* One line per answer, whatever a driver message holds. */
  for (int i = 0; i < len; i++)
    if (line[i] == '\n' || line[i] == '\r') line[i] = ' ';
  line[len++] = '\n';
  pthread_mutex_lock(&out_mu);
  for (int done = 0; done < len;) {
    ssize_t n = write(STDOUT_FILENO, line + done, len - done);
    if (n < 0 && errno == EINTR) continue;
    /* Nobody reads any more: the agent is gone, and so is the reason to go on. */
    if (n <= 0) _exit(0);
    done += n;
  }
  pthread_mutex_unlock(&out_mu);
}

static void answer_cuda_error(const char *id, CUresult result) {
  const char *name = NULL;
  const char *text = NULL;
  if (cu.getErrorName(result, &name) != CUDA_SUCCESS || name == NULL) name = NULL;
  if (cu.getErrorString(result, &text) != CUDA_SUCCESS || text == NULL) text = "";
  if (name != NULL)
    answer("%s error %s %s", id, name, text);
  else
    answer("%s error CUresult_%d unknown error code", id, result);
}

/* ---- one PID at a time, in arrival order --------------------------------------------------------------- */

struct pid_turns {
  int pid;
  unsigned long issued;  /* tickets handed out */
  unsigned long serving; /* the ticket whose turn it is */
  struct pid_turns *next;
};

static pthread_mutex_t turns_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turns_cv = PTHREAD_COND_INITIALIZER;
static struct pid_turns *turns;

/* Called by the reading thread, so tickets follow the order of the input. */
static struct pid_turns *take_ticket(int pid, unsigned long *ticket) {
  pthread_mutex_lock(&turns_mu);
  struct pid_turns *t = turns;
  while (t != NULL && t->pid != pid) t = t->next;
  if (t == NULL) {
    t = calloc(1, sizeof *t);
    if (t == NULL) abort();
    t->pid = pid;
    t->next = turns;
    turns = t;
  }
  *ticket = t->issued++;
  pthread_mutex_unlock(&turns_mu);
  return t;
}

static void wait_turn(struct pid_turns *t, unsigned long ticket) {
  pthread_mutex_lock(&turns_mu);
  while (t->serving != ticket) pthread_cond_wait(&turns_cv, &turns_mu);
  pthread_mutex_unlock(&turns_mu);
}

static void end_turn(struct pid_turns *t) {
  pthread_mutex_lock(&turns_mu);
  t->serving++;
  if (t->serving == t->issued) {
    /* Nobody waits on this PID any more: forget it, so that a long-lived helper does not grow. */
    struct pid_turns **p = &turns;
    while (*p != t) p = &(*p)->next;
    *p = t->next;
    free(t);
  }
  pthread_cond_broadcast(&turns_cv);
  pthread_mutex_unlock(&turns_mu);
}

/* ---- requests ----------------------------------------------------------------------------------------- */

struct request {
  char id[24];
  char verb[16];
  int pid;
  char arg[MAX_LINE];
  struct pid_turns *turns;
  unsigned long ticket;
};

static int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* 32 hex digits → CUuuid; returns the text after them, or NULL. */
static const char *parse_uuid(const char *s, CUuuid *uuid) {
  for (int i = 0; i < 16; i++) {
    int hi = hex_digit(s[2 * i]);
    int lo = hi < 0 ? -1 : hex_digit(s[2 * i + 1]);
    if (lo < 0) return NULL;
    uuid->bytes[i] = (unsigned char)(hi << 4 | lo);
  }
  return s + 32;
}

/* OLD:NEW,OLD:NEW… → pairs; returns how many, or -1. */
static int parse_pairs(const char *s, CUcheckpointGpuPair *pairs) {
  int n = 0;
  for (;;) {
    if (n == MAX_GPU_PAIRS) return -1;
    s = parse_uuid(s, &pairs[n].oldUuid);
    if (s == NULL || *s++ != ':') return -1;
    s = parse_uuid(s, &pairs[n].newUuid);
    if (s == NULL) return -1;
    n++;
    if (*s == '\0') return n;
    if (*s++ != ',') return -1;
  }
}

static int parse_uint(const char *s, unsigned long max, unsigned long *out) {
  if (*s == '\0' || strlen(s) > 19) return -1;
  unsigned long v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9') return -1;
    v = v * 10 + (unsigned long)(*s - '0');
  }
  if (v > max) return -1;
  *out = v;
  return 0;
}

static void serve(const struct request *r) {
  CUresult result;
  int value = 0;
  int answers_value = 0;
  if (strcmp(r->verb, "state") == 0) {
    result = cu.getState(r->pid, &value);
    answers_value = 1;
  } else if (strcmp(r->verb, "restore-tid") == 0) {
    result = cu.getRestoreThreadId(r->pid, &value);
    answers_value = 1;
  } else if (strcmp(r->verb, "lock") == 0) {
    unsigned long timeout;
    if (parse_uint(r->arg, UINT_MAX, &timeout) != 0) {
      answer("%s error BAD_REQUEST lock needs a timeout in milliseconds", r->id);
      return;
    }
    CUcheckpointLockArgs args;
    memset(&args, 0, sizeof args);
    args.timeoutMs = (unsigned int)timeout;
    result = cu.lock(r->pid, &args);
  } else if (strcmp(r->verb, "checkpoint") == 0) {
    CUcheckpointReservedArgs args;
    memset(&args, 0, sizeof args);
    result = cu.checkpoint(r->pid, &args);
  } else if (strcmp(r->verb, "unlock") == 0) {
    CUcheckpointReservedArgs args;
    memset(&args, 0, sizeof args);
    result = cu.unlock(r->pid, &args);
  } else if (strcmp(r->verb, "restore") == 0) {
    CUcheckpointGpuPair pairs[MAX_GPU_PAIRS];
    CUcheckpointRestoreArgs args;
    memset(&args, 0, sizeof args);
    if (r->arg[0] != '\0') {
      int n = parse_pairs(r->arg, pairs);
      if (n < 0) {
        answer("%s error BAD_REQUEST GPU pairs must be OLD:NEW,… of 32 hex digits each (at most %d)", r->id,
               MAX_GPU_PAIRS);
        return;
      }
      args.gpuPairs = pairs;
      args.gpuPairsCount = (unsigned int)n;
    }
    result = cu.restore(r->pid, &args);
  } else {
    answer("%s error BAD_REQUEST unknown verb %s", r->id, r->verb);
    return;
  }
  if (result != CUDA_SUCCESS)
    answer_cuda_error(r->id, result);
  else if (answers_value)
    answer("%s ok %d", r->id, value);
  else
    answer("%s ok", r->id);
}

static pthread_mutex_t flight_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t flight_cv = PTHREAD_COND_INITIALIZER;
static unsigned long in_flight;

static void *run_request(void *arg) {
  struct request *r = arg;
  wait_turn(r->turns, r->ticket);
  serve(r);
  end_turn(r->turns);
  free(r);
  pthread_mutex_lock(&flight_mu);
  if (--in_flight == 0) pthread_cond_broadcast(&flight_cv);
  pthread_mutex_unlock(&flight_mu);
  return NULL;
}

/* "ID VERB PID [ARG]" → a request, or an answer saying why not (and NULL). */
static struct request *read_request(char *line) {
  char *save = NULL;
  char *id = strtok_r(line, " ", &save);
  char *verb = strtok_r(NULL, " ", &save);
  char *pid = strtok_r(NULL, " ", &save);
  char *arg = strtok_r(NULL, " ", &save);
  char *extra = strtok_r(NULL, " ", &save);
  unsigned long n;
  if (id == NULL || strlen(id) >= sizeof ((struct request *)0)->id || parse_uint(id, ULONG_MAX, &n) != 0) {
    answer("0 error BAD_REQUEST a request starts with a numeric id");
    return NULL;
  }
  if (verb == NULL || strlen(verb) >= sizeof ((struct request *)0)->verb || pid == NULL ||
      parse_uint(pid, INT_MAX, &n) != 0 || n == 0 || extra != NULL) {
    answer("%s error BAD_REQUEST expected: ID VERB PID [ARG]", id);
    return NULL;
  }
  struct request *r = calloc(1, sizeof *r);
  if (r == NULL) abort();
  strcpy(r->id, id);
  strcpy(r->verb, verb);
  r->pid = (int)n;
  if (arg != NULL) snprintf(r->arg, sizeof r->arg, "%s", arg);
  r->turns = take_ticket(r->pid, &r->ticket);
  return r;
}

/* ---- start-up ----------------------------------------------------------------------------------------- */

static void unavailable(const char *fmt, ...) {
  char reason[MAX_LINE / 2];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, sizeof reason, fmt, ap);
  va_end(ap);
  answer(PROTOCOL " unavailable %s", reason);
  exit(EXIT_UNAVAILABLE);
}

/* Where the loader found the library: worth a line in the agent's log. */
static const char *path_of(void *handle, const char *fallback) {
  struct link_map *map = NULL;
  if (dlinfo(handle, RTLD_DI_LINKMAP, &map) == 0 && map != NULL && map->l_name != NULL && map->l_name[0])
    return map->l_name;
  return fallback;
}

int main(int argc, char **argv) {
  const char *library = "libcuda.so.1";
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--lib") == 0 && i + 1 < argc) {
      library = argv[++i];
    } else {
      fprintf(stderr, "usage: snapback-cuda-helper [--lib PATH]  (speaks a line protocol on stdin/stdout)\n");
      return 2;
    }
  }
  /* A write to a reader that has gone fails with EPIPE instead of killing us mid-answer. */
  signal(SIGPIPE, SIG_IGN);
  /* The agent's death ends us; if it died before this line, our parent is already someone else. */
  pid_t agent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != agent) return 1;

  void *handle = dlopen(library, RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) unavailable("%s could not be loaded: %s", library, dlerror());
  for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
    *symbols[i].slot = dlsym(handle, symbols[i].name);
    if (*symbols[i].slot == NULL)
      unavailable("%s has no %s: the CUDA checkpoint API needs driver 570 (CUDA 12.8) or newer",
                  path_of(handle, library), symbols[i].name);
  }
  /* Once for the helper's whole life; a restore needs it (or persistence mode) to have happened. */
  CUresult result = cu.init(0);
  if (result != CUDA_SUCCESS) {
    const char *name = NULL;
    const char *text = NULL;
    cu.getErrorName(result, &name);
    cu.getErrorString(result, &text);
    unavailable("cuInit failed: %s (%s)", name ? name : "unknown error", text ? text : "");
  }
  int version = 0;
  cu.driverGetVersion(&version);
  answer(PROTOCOL " ready %d %s", version, path_of(handle, library));

  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  char *line = NULL;
  size_t size = 0;
  ssize_t len;
  while ((len = getline(&line, &size, stdin)) >= 0) {
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = '\0';
    if (len == 0) continue;
    if (len >= MAX_LINE) {
      answer("0 error BAD_REQUEST line longer than %d bytes", MAX_LINE - 1);
      continue;
    }
    struct request *r = read_request(line);
    if (r == NULL) continue;
    pthread_mutex_lock(&flight_mu);
    in_flight++;
    pthread_mutex_unlock(&flight_mu);
    pthread_t thread;
    if (pthread_create(&thread, &attr, run_request, r) != 0) {
      /* Out of threads: serve it here rather than drop it (it still waits for its PID's turn). */
      run_request(r);
    }
  }
  /* The agent closed our input: answer what is in flight, then end. */
  pthread_mutex_lock(&flight_mu);
  while (in_flight > 0) pthread_cond_wait(&flight_cv, &flight_mu);
  pthread_mutex_unlock(&flight_mu);
  return 0;
}
