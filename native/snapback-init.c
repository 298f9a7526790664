/*
 * snapback-init: PID 1 of a placeholder container, so that a workload restored into it lives as if it
 * were the container's own PID 1 (docs/architecture.md, "Restore into a placeholder").
 *
 *   snapback-init [--control DIR] [--wait SECONDS] -- COMMAND [ARG...]
 *
 * It waits for the node's agent to decide, through files in DIR (default: the folder this binary is in,
 * an emptyDir the pod shares with it):
 *   DIR/state      written here: "waiting", "restoring" (the agent's decision, acknowledged), then
 *                  "restored PID" or "cold REASON"
 *   DIR/decision   written by the agent (atomically, by rename): "restoring" (a restore is under way:
 *                  keep waiting), "restored PID" (the restored root is PID, a child of this process once
 *                  CRIU has exited), or "cold REASON" (nothing to restore: run COMMAND)
 * With no decision within --wait seconds (default 60, or SNAPBACK_INIT_WAIT), and no restore under way,
 * it runs COMMAND: one pod spec starts cold when there is nothing to restore. A container restarted in the
 * same pod (DIR outlives it) starts cold at once: a checkpoint is restored once.
 *
 * Restored, it stays PID 1: it forwards every catchable signal (the kubelet's SIGTERM first) to the
 * restored root, reaps orphans, and exits with the restored root's exit status (128+N when a signal N
 * ended it), so that deleting the pod, restartPolicy and exit codes behave as before the checkpoint.
 * Cold, it becomes COMMAND (exec): the container is then exactly what its image would have run.
 *
 *   snapback-init --forward -- COMMAND [ARG...]
 * The process runtime's init (src/lib/process/launch.ts): a workload there is PID 1 of its own pid
 * namespace, and a PID 1 ignores every signal it has no handler for when it comes from outside — `kill PID`
 * would do nothing to most programs. Here COMMAND runs as this process's child instead, every catchable
 * signal is forwarded to it, orphans are reaped, and this process exits with COMMAND's exit status (128+N
 * when a signal N ended it), as tini does. CRIU dumps and restores it with the tree: no control folder, no
 * state but COMMAND's pid, which a restore keeps.
 *
 * Static, no allocation after start, no library beyond libc: it must run in any image.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_MS 20
#define MAX_EARLY 64
/* The agent's own bounds after "restoring": the filesystem and volumes (10 min each, at most) and CRIU
 * (10 min by default); past that the agent is gone. */
#define RESTORING_MAX_MS (45LL * 60 * 1000)

static char control[PATH_MAX];

static void say(const char *fmt, const char *arg) {
	fprintf(stderr, "snapback-init: ");
	fprintf(stderr, fmt, arg);
	fputc('\n', stderr);
}

static void path_of(char *out, const char *name) { snprintf(out, PATH_MAX, "%s/%s", control, name); }

/* Writes DIR/state by rename, so the agent never reads half of it. */
static void write_state(const char *text) {
	char path[PATH_MAX], tmp[PATH_MAX];
	path_of(path, "state");
	snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) return;
	ssize_t n = write(fd, text, strlen(text));
	(void)n;
	fsync(fd);
	close(fd);
	rename(tmp, path);
}

/* Reads a small file of DIR into buf (NUL-terminated, trailing newline dropped); 0 when absent. */
static int read_file(const char *name, char *buf, size_t size) {
	char path[PATH_MAX];
	path_of(path, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) return 0;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0) return 0;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) buf[--n] = '\0';
	return 1;
}

static int exit_code_of(int status) {
	if (WIFEXITED(status)) return WEXITSTATUS(status);
	if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
	return 1;
}

/* Children reaped before the agent named the restored root: their statuses, looked up once it does. */
static struct {
	pid_t pid;
	int status;
} early[MAX_EARLY];
static int early_count;

static void reap_all(pid_t root, int *root_status, int *root_done) {
	for (;;) {
		int status;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		if (pid <= 0) return;
		if (root > 0 && pid == root) {
			*root_status = status;
			*root_done = 1;
		} else if (root <= 0 && early_count < MAX_EARLY) {
			early[early_count].pid = pid;
			early[early_count].status = status;
			early_count++;
		}
	}
}

static void run_cold(char **command, const char *reason) {
	char state[PATH_MAX];
	snprintf(state, sizeof state, "cold %s\n", reason);
	write_state(state);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execvp(command[0], command);
	say("cannot run the container's command %s", command[0]);
	perror("snapback-init: execvp");
	exit(127);
}

static long long now_ms(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --forward: COMMAND as a child, every catchable signal forwarded to it, its exit status mirrored. */
static int forward(char **command) {
	sigset_t all, none;
	sigfillset(&all);
	sigemptyset(&none);
	sigprocmask(SIG_BLOCK, &all, NULL);
	pid_t child = fork();
	if (child < 0) {
		perror("snapback-init: fork");
		return 126;
	}
	if (child == 0) {
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(command[0], command);
		say("cannot run %s", command[0]);
		perror("snapback-init: execvp");
		_exit(errno == ENOENT ? 127 : 126);
	}
	for (;;) {
		siginfo_t info;
		/* Blocked signals are queued even for a namespace's init, and taken here one at a time. A dump or
		 * a restore interrupts the wait (EINTR): it is simply waited again. */
		int sig = sigwaitinfo(&all, &info);
		if (sig > 0 && sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		for (;;) {
			int status;
			pid_t pid = waitpid(-1, &status, WNOHANG);
			if (pid <= 0) break;
			if (pid == child) return exit_code_of(status);
		}
	}
}

int main(int argc, char **argv) {
	if (argc >= 3 && strcmp(argv[1], "--forward") == 0 && strcmp(argv[2], "--") == 0) {
		if (argc == 3) {
			say("%s", "no command after --forward --");
			return 2;
		}
		return forward(&argv[3]);
	}
	const char *wait_env = getenv("SNAPBACK_INIT_WAIT");
	long wait_s = wait_env ? strtol(wait_env, NULL, 10) : 60;
	int i = 1;
	control[0] = '\0';
	for (; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (strcmp(argv[i], "--control") == 0 && i + 1 < argc) {
			snprintf(control, sizeof control, "%s", argv[++i]);
		} else if (strcmp(argv[i], "--wait") == 0 && i + 1 < argc) {
			wait_s = strtol(argv[++i], NULL, 10);
		} else {
			say("unknown argument %s (usage: snapback-init [--control DIR] [--wait SECONDS] -- COMMAND...)", argv[i]);
			return 2;
		}
	}
	if (i >= argc) {
		say("%s", "no command after --: it is what runs when there is nothing to restore");
		return 2;
	}
	char **command = &argv[i];
	if (control[0] == '\0') {
		char self[PATH_MAX];
		ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
		if (n <= 0) n = snprintf(self, sizeof self, "%s", argv[0]);
		self[n] = '\0';
		char *slash = strrchr(self, '/');
		if (slash != NULL && slash != self) *slash = '\0';
		else snprintf(self, sizeof self, "/");
		snprintf(control, sizeof control, "%s", self);
	}

	/* An earlier container of this pod acted already (the checkpoint is spent), or was told to start
	 * cold (a restore that failed and restarted the container): start cold. */
	char previous[256];
	if (read_file("state", previous, sizeof previous) && strncmp(previous, "waiting", 7) != 0)
		run_cold(command, "restarted");
	if (read_file("decision", previous, sizeof previous) && strncmp(previous, "cold", 4) == 0)
		run_cold(command, previous[4] == ' ' ? previous + 5 : "told to");
	char stale[PATH_MAX];
	path_of(stale, "decision");
	unlink(stale);

	/* Every catchable signal is taken synchronously (sigtimedwait) and forwarded, as tini does. */
	sigset_t all;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, NULL);
	write_state("waiting\n");

	long long deadline = now_ms() + wait_s * 1000;
	pid_t root = 0;
	int root_status = 0, root_done = 0, restoring = 0;
	for (;;) {
		struct timespec tick = {0, POLL_MS * 1000000L};
		siginfo_t info;
		int sig = sigtimedwait(&all, &info, root > 0 ? NULL : &tick);
		if (sig == SIGCHLD || sig < 0) {
			reap_all(root, &root_status, &root_done);
		} else if (root > 0) {
			kill(root, sig);
		} else if (sig == SIGTERM || sig == SIGINT || sig == SIGQUIT || sig == SIGHUP) {
			write_state("cold stopped while waiting\n");
			return 128 + sig;
		}
		if (root_done) return exit_code_of(root_status);
		if (root > 0) continue;

		char decision[256];
		if (read_file("decision", decision, sizeof decision)) {
			if (strncmp(decision, "restored ", 9) == 0) {
				root = (pid_t)strtol(decision + 9, NULL, 10);
				char state[64];
				snprintf(state, sizeof state, "restored %d\n", (int)root);
				write_state(state);
				for (int k = 0; k < early_count; k++)
					if (early[k].pid == root) return exit_code_of(early[k].status);
				reap_all(root, &root_status, &root_done);
				if (root_done) return exit_code_of(root_status);
				if (kill(root, 0) != 0) {
					say("the restored root %s is gone", decision + 9);
					return 1;
				}
			} else if (strncmp(decision, "cold", 4) == 0) {
				run_cold(command, decision[4] == ' ' ? decision + 5 : "told to");
			} else if (strcmp(decision, "restoring") == 0 && !restoring) {
				/* Said back, so that the agent touches the container only once the wait cannot expire. */
				restoring = 1;
				deadline = now_ms() + RESTORING_MAX_MS;
				write_state("restoring\n");
			}
		}
		if (now_ms() > deadline) run_cold(command, restoring ? "the restore never finished" : "no restore within the wait");
	}
}
