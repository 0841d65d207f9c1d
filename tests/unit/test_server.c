/* The server in this process, on a thread: accept() when descriptors run
 * out. Clients are forked children (their own descriptor tables). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "core/server.h"

struct run {
	int lfd, rc;
	struct service svc;
	struct server_opts o;
};

static void *serve(void *p)
{
	struct run *r = p;
	r->rc = server_run(&r->lfd, 1, &r->svc, &r->o, NULL);
	return NULL;
}

/* The server's threads (its control thread, its loop, its workers) and
 * this one, which only waits for its children meanwhile. */
static double process_cpu(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
		return -1;
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A child connects to port; exits 0 when it sees what want says within
 * 2 s: want_bytes 1 = the server's first bytes (SETTINGS), 0 = the
 * connection closed without a byte. lowest: descriptors to free first. */
static pid_t client(int port, int want_bytes, const int *spare, int nspare)
{
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	for (int i = 0; i < nspare; i++)
		close(spare[i]);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0)
		_exit(2);
	char b[64];
	ssize_t n = recv(fd, b, sizeof b, 0);
	if (want_bytes)
		_exit(n > 0 ? 0 : 1);
	_exit(n == 0 || (n < 0 && errno == ECONNRESET) ? 0 : 1);
}

static int open_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	for (struct dirent *e; d && (e = readdir(d));)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n - 1;	/* opendir's own */
}

static int exit_code(pid_t pid)
{
	int st;
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static void test_accept_when_out_of_descriptors(void)
{
	struct rlimit rl = { 128, 128 };
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		SKIP("cannot lower RLIMIT_NOFILE");
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* for the server's signalfd */
	struct run r = { .o = { .max_conns = 1024, .idle_ms = 10000, .handshake_ms = 5000, .drain_ms = 1000,
				.job_ms = 1000, .lim = { .max_message = 1 << 16, .max_streams = 4, .max_header_list = 4096,
							 .max_output = 1 << 16, .max_conn_buffer = 1 << 17 },
				.max_buffer = 1 << 20, .fetch_workers = 1, .scan_workers = 1, .max_queue = 2,
				.max_jobs_per_conn = 1 } };
	struct index_opts io = { .no_system = 1 };
	CHECK_INT(index_build(&io, &r.svc.idx, NULL), 0);
	char bound[64];
	CHECK_INT(server_listen("127.0.0.1:0", 1, &r.lfd, bound, sizeof bound, NULL), 0);
	int port = atoi(strrchr(bound, ':') + 1);
	size_t limit, conns = server_clamp_conns(1024, &limit);
	CHECK_INT(limit, 128);
	CHECK(conns < 128);	/* room left for everything else */
	pthread_t th;
	CHECK_INT(pthread_create(&th, NULL, serve, &r), 0);
	usleep(200000);

	/* Served while descriptors last. */
	int before = open_fds();
	CHECK_INT(exit_code(client(port, 1, NULL, 0)), 0);
	/* The server closes that connection on its own time: wait, or its
	 * descriptor would free up while the next client waits. */
	for (int i = 0; i < 200 && open_fds() > before; i++)
		usleep(10000);
	/* Now take every free descriptor of the process. */
	int held[200], n = 0, fd;
	while (n < 200 && (fd = open("/dev/null", O_RDONLY)) >= 0)
		held[n++] = fd;
	CHECK(n < 200 && errno == EMFILE);
	double cpu0 = process_cpu();
	/* The waiting client is accepted on the reserve and closed at once,
	 * and the server does not spin on EMFILE meanwhile. */
	CHECK_INT(exit_code(client(port, 0, held, 8)), 0);
	usleep(500000);
	double cpu = process_cpu() - cpu0;
	CHECK(cpu >= 0 && cpu < 0.3);
	for (int i = 0; i < n; i++)
		close(held[i]);
	/* Descriptors back: accepting again after the pause. */
	CHECK_INT(exit_code(client(port, 1, NULL, 0)), 0);
	kill(getpid(), SIGTERM);
	pthread_join(th, NULL);
	CHECK_INT(r.rc, 0);
	index_free(r.svc.idx);
}

int main(void)
{
	alarm(60);
	RUN(test_accept_when_out_of_descriptors);
	return check_summary();
}
