/* The applet list. Each APPLET(name) has an applets/name.c defining
 * int name_main(int argc, char **argv). Keep the list sorted: main.c
 * searches it with bsearch. Adding an applet is one line here. */
#ifndef APPLETS_H
#define APPLETS_H

#define APPLET_LIST \
	APPLET(check)   \
	APPLET(gen)     \
	APPLET(labels)  \
	APPLET(pull)    \
	APPLET(push)    \
	APPLET(serve)   \
	APPLET(trace)

#define APPLET(name) int name##_main(int argc, char **argv);
APPLET_LIST
#undef APPLET

#endif
