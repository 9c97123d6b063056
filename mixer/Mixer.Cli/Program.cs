using System.CommandLine;
using Mixer.Cli;

var root = new RootCommand("mixc: talk to Mixer (check, report) and work with its config language (eval, validate).")
{
    EvalCommand.Create(),
    ValidateCommand.Create(),
};
return await root.Parse(args).InvokeAsync().ConfigureAwait(false);
