using System.CommandLine;
using Grpc.Core;
using Istio.Mixer.V1;
using Mixer.Client;

namespace Mixer.Cli;

/// <summary><c>mixc report</c>: Mixer's Report with one attribute set from flags, sent <c>--repeat</c> times.</summary>
internal static class ReportCommand
{
    public static Command Create()
    {
        var options = new ApiOptions();
        var batchSize = new Option<int>("--report_batch_size")
        {
            Description = "attribute sets per Report call (delta-encoded: the first whole, the rest empty); --repeat counts sets",
            DefaultValueFactory = _ => 1,
        };
        var command = new Command(
            "report",
            "Invoke Mixer's Report API: telemetry for the attributes given.\n\n"
            + "Example:\n  mixc report -m localhost:9091 -s source.namespace=default,destination.service=reviews.default.svc.cluster.local "
            + "-i response.code=503 --duration_attributes response.duration=12ms\n\n"
            + "Exit codes: 0 OK, 1 the call failed, 2 bad usage.");
        options.AddTo(command);
        command.Options.Add(batchSize);
        command.SetAction((parse, cancellationToken) =>
        {
            var size = parse.GetValue(batchSize);
            if (!options.TryRead(parse, out var args, out var problem) || size < 1)
            {
                parse.InvocationConfiguration.Error.WriteLine("error: " + (problem ?? "--report_batch_size must be at least 1"));
                return Task.FromResult(ExitCodes.BadInput);
            }

            return RunAsync(args, size, new ApiOutput(parse.InvocationConfiguration.Output, args.Json), cancellationToken);
        });
        return command;
    }

    private static Task<int> RunAsync(ApiArgs args, int batchSize, ApiOutput output, CancellationToken cancellationToken)
    {
        // Each worker sends --repeat sets, batchSize to a call; the last call may carry fewer.
        var compressor = new AttributeCompressor(args.GlobalWordCount);
        var full = Batch(compressor, args.Attributes, Math.Min(batchSize, args.Repeat));
        var rest = args.Repeat % batchSize;
        var last = rest == 0 ? full : Batch(compressor, args.Attributes, rest);
        var calls = (args.Repeat + batchSize - 1) / batchSize;
        return ApiRunner.RunAsync(args with { Repeat = calls }, async (_, iteration, client, deadline, ct) =>
        {
            var request = iteration == calls - 1 ? last : full;
            try
            {
                await client.ReportAsync(request, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                if (args.PrintResponse)
                {
                    output.WriteFailure("Report RPC returned ", e);
                }

                return ExitCodes.CallFailed;
            }

            if (args.PrintResponse)
            {
                output.Write(
                    sb => sb.AppendLine("Report RPC returned OK"),
                    w =>
                    {
                        w.WritePropertyName("status");
                        ApiOutput.WriteStatus(w, 0, "OK", string.Empty);
                        w.WriteNumber("attributeSets", request.Attributes.Count);
                    });
            }

            return ExitCodes.Ok;
        }, cancellationToken);
    }

    private static ReportRequest Batch(AttributeCompressor compressor, Attributes attributes, int sets)
    {
        var batch = compressor.CreateReportBatch();
        for (var i = 0; i < sets; i++)
        {
            batch.TryAdd(attributes);
        }

        return batch.Build();
    }
}
