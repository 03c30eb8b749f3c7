/* The co2 feature's part of this app (issue 21/22); filled in by that feature. */
"use strict";
