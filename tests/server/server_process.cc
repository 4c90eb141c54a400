#include "tests/server/server_process.h"
