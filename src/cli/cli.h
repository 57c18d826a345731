/* cli.h - the subcommands of the `dann` program. Each takes the arguments after its name
 * (argv[0] is the subcommand) and returns the process exit status: 0 on success, 1 on a
 * runtime error (a message "dann <cmd>: <file>: <problem>" on stderr), 2 on a usage error. */
#ifndef DANN_CLI_H
#define DANN_CLI_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
int cmd_demo(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_pad(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_demo_moons(int argc, char **argv);  /* `dann demo moons` */
int cmd_experiment(int argc, char **argv);
/* `dann train`'s option parsing and the checks of option values that read no file, without
 * running anything: 0 or 2 (fuzz/fuzz_args.c). */
int cmd_train_parse_only(int argc, char **argv);

#endif
