// SPDX-License-Identifier: BSD-3-Clause
/*
 * header_cxx.cc -- build-only test: daxo.h compiles alone as C++11
 * (-std=c++11 -pedantic -Werror) and declares its functions extern "C".
 */
#include "daxo.h"

int main()
{
	int (*open_fn)(const char *, const char *, unsigned, daxo_pool **) =
		daxo_open;
	daxo_oid oid = DAXO_OID_NULL;

	return (open_fn == nullptr) + static_cast<int>(oid);
}
