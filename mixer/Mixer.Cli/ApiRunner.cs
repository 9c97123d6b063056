using System.Diagnostics;
using Grpc.Core;
using Grpc.Net.Client;
using Istio.Mixer.V1;

namespace Mixer.Cli;

/// <summary>
/// Sends the calls of one check or report run: <c>--concurrency</c> workers, each sending
/// <c>--repeat</c> calls (at most <c>--rate</c> a second), over one HTTP/2 connection. The exit
/// code is the worst outcome of any call.
/// </summary>
internal static class ApiRunner
{
    /// <summary>
    /// One call: its number (0-based, across workers), its iteration within its worker, the client
    /// and the deadline; returns an exit code.
    /// </summary>
    public delegate Task<int> Call(long number, int iteration, Istio.Mixer.V1.Mixer.MixerClient client, DateTime deadline, CancellationToken cancellationToken);

    public static async Task<int> RunAsync(ApiArgs args, Call call, CancellationToken cancellationToken)
    {
        using var channel = GrpcChannel.ForAddress(args.Address);
        var client = new Istio.Mixer.V1.Mixer.MixerClient(channel);
        long next = -1;
        var workers = new Task<int>[args.Concurrency];
        for (var w = 0; w < workers.Length; w++)
        {
            workers[w] = Task.Run(
                async () =>
                {
                    var code = ExitCodes.Ok;
                    var clock = Stopwatch.StartNew();
                    for (var i = 0; i < args.Repeat && !cancellationToken.IsCancellationRequested; i++)
                    {
                        if (args.Rate > 0)
                        {
                            var due = TimeSpan.FromSeconds((double)i / args.Rate) - clock.Elapsed;
                            if (due > TimeSpan.Zero)
                            {
                                await Task.Delay(due, cancellationToken).ConfigureAwait(false);
                            }
                        }

                        var number = Interlocked.Increment(ref next);
                        code = ExitCodes.Worst(code, await call(number, i, client, DateTime.UtcNow + args.Timeout, cancellationToken).ConfigureAwait(false));
                    }

                    return code;
                },
                cancellationToken);
        }

        var codes = await Task.WhenAll(workers).ConfigureAwait(false);
        return codes.Aggregate(ExitCodes.Ok, ExitCodes.Worst);
    }

    /// <summary>Istio mixc's form of a failed call: the gRPC code, then the message in parentheses.</summary>
    public static string Describe(RpcException e) =>
        string.IsNullOrEmpty(e.Status.Detail) ? e.StatusCode.ToString() : $"{e.StatusCode} ({e.Status.Detail})";
}
