import type { Command } from "commander";
import type { Config } from "../config/schema.js";
import { InputError } from "../sources/file-reader.js";
import { counted } from "../util/counted.js";
import { resolveConfig } from "./config-option.js";
import type { BanContext } from "./context.js";

/** `sipban firewall setup|teardown|status`. */
export function registerFirewallCommands(program: Command): void {
  const firewall = program
    .command("firewall")
    .description("manage sipban's own firewall table, sets and chains");
  const config = (command: Command): Promise<Config> => resolveConfig(command.optsWithGlobals().config);
  // The firewall and store modules load only when a command runs.
  const withBanContext = async <T>(config: Config, work: (ctx: BanContext) => Promise<T>): Promise<T> =>
    (await import("./context.js")).withBanContext(config, work);

  firewall
    .command("setup")
    .description(
      "create sipban's firewall structure and load every active ban (also repairs it after a flush)",
    )
    .action(async (_options: unknown, command: Command) =>
      withBanContext(await config(command), async (ctx) => {
        const now = Date.now();
        if (ctx.sshClient && !ctx.allowlist.has(ctx.sshClient) && ctx.store.activeBan(ctx.sshClient, now)) {
          throw new InputError(
            `refusing to apply the firewall: your SSH session comes from ${ctx.sshClient}, which is banned; ` +
              `add it to the allowlist or run \`sipban unban ${ctx.sshClient}\` first`,
          );
        }
        const result = await ctx.manager.reconcile(now);
        console.log(
          `firewall ready (${ctx.backend.name}): ${counted(result.added, "ban")} added, ${result.removed} stale removed, ${result.kept} in place`,
        );
      }),
    );

  firewall
    .command("teardown")
    .description("remove everything sipban created in the firewall (bans stay recorded)")
    .action(async (_options: unknown, command: Command) =>
      withBanContext(await config(command), async (ctx) => {
        await ctx.backend.teardown();
        console.log(
          `removed sipban's ${ctx.backend.name} structure; \`sipban firewall setup\` restores it with every active ban`,
        );
      }),
    );

  firewall
    .command("status")
    .description("show whether sipban's firewall structure is in place and how many addresses it holds")
    .action(async (_options: unknown, command: Command) =>
      withBanContext(await config(command), async (ctx) => {
        const status = await (await import("./context.js")).describeFirewall(ctx);
        console.log(status.line);
        if (status.detail) console.log(status.detail);
        if (!status.present) process.exitCode = 1;
      }),
    );
}
