/* moo: global options, the verb table, dispatch. */
#include <langinfo.h>
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

/*
 * SIGINT, SIGTERM: libmoo's long operations see the flag, remove what they half wrote and
 * return MOO_EINTR (exit 130). One that does not look at it within INTERRUPT_GRACE_S
 * seconds, or a second signal, ends moo at once; what it leaves, the next moo removes.
 */
#define INTERRUPT_GRACE_S 5
static volatile sig_atomic_t interrupted;

static void on_interrupt(int sig)
{
	if (sig == SIGALRM || interrupted) {
		_exit(EXIT_INTERRUPTED);
	}
	interrupted = 1;
	alarm(INTERRUPT_GRACE_S);
}

const volatile sig_atomic_t *interrupt_flag(void)
{
	return &interrupted;
}

/* The signal has been answered (follow_job detached): no forced end INTERRUPT_GRACE_S later. */
void interrupt_answered(void)
{
	alarm(0);
}

static void catch_interrupts(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGALRM};
	struct sigaction sa, old;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_interrupt;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		/* a signal ignored by whoever started us (nohup, a background job) stays so */
		if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler != SIG_IGN) {
			sigaction(sigs[i], &sa, NULL);
		}
	}
	moo_set_interrupt_flag(&interrupted);
}

const struct cmd *const commands[] = {
	&cmd_hosts,   &cmd_init,    &cmd_validate, &cmd_pack,      &cmd_inspect, &cmd_run,
	&cmd_ps,      &cmd_status,  &cmd_logs,     &cmd_cancel,    &cmd_fetch,   &cmd_rm,
	&cmd_show,    &cmd_compare, &cmd_resolve,  &cmd_reproduce, &cmd_ssh,     &cmd_diff,
	&cmd_publish, &cmd_models,  &cmd_serve,    &cmd_predict,   &cmd_sweep,   &cmd_datasets,
};
const size_t n_commands = sizeof(commands) / sizeof(commands[0]);

int cmd_dispatch(const struct cmd *cmd, int argc, char **argv)
{
	struct cmd_ctx ctx = {0, NULL, NULL, NULL};
	int r;

	if (cmd->run) {
		return cmd->run(cmd, argc, argv);
	}
	r = opt_parse(cmd, cmd->opts, argc, argv, &ctx.argc, cmd->min_pos, cmd->max_pos);
	if (r < 0 && cmd->check) {
		r = cmd->check(cmd);
	}
	if (r >= 0) {
		return r;
	}
	ctx.argv = argv;
	if (cmd->flags & CMD_JOB) {
		r = open_job(argv[0], cmd->on ? *cmd->on : NULL, cmd->flags & CMD_REFRESH, &ctx.st,
			     &ctx.job);
	} else if (cmd->flags & CMD_STORE) {
		r = open_store(&ctx.st);
	}
	if (r >= 0) {
		return r;
	}
	r = cmd->exec(cmd, &ctx);
	moo_job_free(ctx.job);
	moo_store_close(ctx.st);
	return r;
}

static void usage(FILE *f)
{
	size_t i;

	fputs("usage: moo [--version] [--help] COMMAND [options] [ARGS]\n\n"
	      "Take a model project from metadata.yaml to a finished training run.\n\n"
	      "commands:\n",
	      f);
	for (i = 0; i < n_commands; i++) {
		fprintf(f, "  %-12s %s\n", commands[i]->name, commands[i]->summary);
	}
	fputs("\n'moo help COMMAND' or 'moo COMMAND --help' tells more of one; see moo(1).\n"
	      "Exit codes: 0 ok, 1 job failed, 2 usage, 3 invalid spec or bundle,\n"
	      "4 host unreachable, 5 nothing resolves, 6 local failure, 130 interrupted.\n",
	      f);
}

static const struct cmd *find(const char *name)
{
	size_t i;

	for (i = 0; i < n_commands; i++) {
		if (!strcmp(commands[i]->name, name)) {
			return commands[i];
		}
	}
	return NULL;
}

static int unknown_command(const char *name)
{
	const char *names[64];
	const char *near;
	char hint[96];
	size_t i;

	for (i = 0; i < n_commands && i < 63; i++) {
		names[i] = commands[i]->name;
	}
	names[i++] = "help";
	near = moo__suggest(name, names, i);
	if (near) {
		snprintf(hint, sizeof(hint), "did you mean 'moo %s'?", near);
	}
	return usage_error(NULL, near ? hint : NULL, "unknown command '%s'", name);
}

int main(int argc, char **argv)
{
	const struct cmd *cmd;

	/*
	 * File names are bytes, and a bundle's are UTF-8 (a ZIP's names are converted to the
	 * locale's characters by libarchive, which in the "C" locale cannot hold 'données'):
	 * LC_CTYPE is the user's where it is UTF-8, else C.UTF-8. Nothing else of the locale
	 * is taken: messages stay as written and numbers keep their '.'.
	 */
	if (!setlocale(LC_CTYPE, "") || strcmp(nl_langinfo(CODESET), "UTF-8")) {
		setlocale(LC_CTYPE, "C.UTF-8");
	}
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("moo %s\n", moo_version());
		return EXIT_OK;
	}
	if (!strcmp(argv[1], "help")) {
		if (argc < 3) {
			usage(stdout);
			return EXIT_OK;
		}
		if (!strcmp(argv[2], "help") || !strcmp(argv[2], "--help") ||
		    !strcmp(argv[2], "-h")) {
			printf("usage: moo help [COMMAND]\n\nShow the help of moo, or of one "
			       "command "
			       "(the same as 'moo COMMAND --help').\n");
			return EXIT_OK;
		}
		cmd = find(argv[2]);
		if (!cmd) {
			return unknown_command(argv[2]);
		}
		{
			char help[] = "--help";
			char *args[] = {argv[2], help, NULL};

			return cmd_dispatch(cmd, 2, args);
		}
	}
	if (argv[1][0] == '-') {
		const char *names[] = {"help", "version"};
		const char *near = moo__suggest(argv[1] + strspn(argv[1], "-"), names, 2);
		char hint[64];

		if (near) {
			snprintf(hint, sizeof(hint), "did you mean '--%s'?", near);
		}
		return usage_error(NULL, near ? hint : NULL, "unknown option '%s'", argv[1]);
	}
	cmd = find(argv[1]);
	if (!cmd) {
		return unknown_command(argv[1]);
	}
	moo_set_transfer_progress(progress_cb); /* a bar on a terminal only */
	moo_keep_connections(true);             /* moo-hosts(1), KEPT CONNECTIONS */
	moo_set_warning_cb(print_warning_cb, NULL);
	catch_interrupts();
	{
		int r = cmd_dispatch(cmd, argc - 1, argv + 1);

		progress_end();
		return json_finish(r);
	}
}
