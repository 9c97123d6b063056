using System.CommandLine;

namespace Mixer.Cli;

/// <summary>mixc's command tree and entry point, over explicit writers so tests run it in-process.</summary>
internal static class Mixc
{
    public static RootCommand Create() => new("mixc: talk to Mixer (check, report) and work with its config (eval, validate).")
    {
        CheckCommand.Create(),
        ReportCommand.Create(),
        EvalCommand.Create(),
        ValidateCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>; a parse error exits <see cref="ExitCodes.BadInput"/>.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var parse = Create().Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
            {
                await error.WriteLineAsync("error: " + e.Message).ConfigureAwait(false);
            }

            await error.WriteLineAsync("Run 'mixc --help' (or 'mixc <command> --help') to see the flags.").ConfigureAwait(false);
            return ExitCodes.BadInput;
        }

        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken).ConfigureAwait(false);
    }
}
