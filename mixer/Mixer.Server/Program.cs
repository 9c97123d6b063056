using Mixer.Server.Hosting;

// mixs: Mixer's server. `mixs server [flags]` runs it; `mixs version` prints the version.
if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.Out.WriteLine("""
        mixs: Mixer, the policy and telemetry server of an Istio 1.0 compatible mesh.

        Usage:
          mixs server [flags]   start the Check/Report gRPC API and the monitoring endpoint
          mixs version          print the version

        Run 'mixs server --help' for the server's flags.
        """);
    return args.Length == 0 ? 2 : 0;
}

switch (args[0])
{
    case "version":
        Console.Out.WriteLine($"mixs {MixsHost.Version} (Istio 1.0 Mixer API)");
        return 0;
    case "server":
        var rest = args.Skip(1).ToArray();
        if (rest.Any(a => a is "-h" or "--help"))
        {
            Console.Out.WriteLine(ServerArgs.Usage);
            return 0;
        }

        if (!ServerArgs.TryParse(rest, out var serverArgs, out var error))
        {
            Console.Error.WriteLine($"mixs server: {error}");
            Console.Error.WriteLine("Run 'mixs server --help' for the flags.");
            return 2;
        }

        return await MixsHost.RunAsync(serverArgs, CancellationToken.None).ConfigureAwait(false);
    default:
        Console.Error.WriteLine($"mixs: unknown command '{args[0]}'; try 'mixs --help'");
        return 2;
}
