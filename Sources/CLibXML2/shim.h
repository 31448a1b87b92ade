#ifndef HOTDESK_CLIBXML2_SHIM_H
#define HOTDESK_CLIBXML2_SHIM_H
#include <libxml/xmlversion.h>
/* Debian's libxml2 pulls in system ICU headers, which clash with Foundation's bundled ICU. */
#undef LIBXML_ICU_ENABLED
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlmemory.h>

/* xmlFree is a global variable holding a function pointer; Swift 6 cannot touch it safely. */
static inline void cxml_free(void *p) { xmlFree(p); }
#endif
