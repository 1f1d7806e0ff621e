/* `serviceradar-core embed ...`: embeds stdin lines, compares two texts, or shows tokens. */
#pragma once

/* argv[0] is "embed". Returns the process exit status. */
int sr_embed_cli_main(int argc, char **argv);
