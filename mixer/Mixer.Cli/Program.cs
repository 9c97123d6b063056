using Mixer.Cli;

// Ctrl+C cancels the running calls through System.CommandLine's own termination handling.
return await Mixc.RunAsync(args, Console.Out, Console.Error).ConfigureAwait(false);
