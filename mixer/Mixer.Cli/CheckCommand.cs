using System.CommandLine;
using System.Globalization;
using System.Text;
using Grpc.Core;
using Istio.Mixer.V1;
using Mixer.Client;

namespace Mixer.Cli;

/// <summary>
/// <c>mixc check</c>: Mixer's Check with attributes from flags and, optionally, quotas; prints the
/// status, how long and how often the answer may be reused, what it depended on, and the grants.
/// </summary>
internal static class CheckCommand
{
    private static readonly string[] QuotaHeader = ["  Quota", "Granted Amount", "Duration"];

    public static Command Create()
    {
        var options = new ApiOptions();
        var quotas = new Option<string[]>("--quotas", "-q")
        {
            Description = "quotas to allocate as name1=amount1,name2=amount2 (repeatable; asked best effort, as Istio's mixc does)",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command(
            "check",
            "Invoke Mixer's Check API: precondition checks and quota allocations.\n\n"
            + "Example:\n  mixc check -m localhost:9091 -s destination.service=reviews.default.svc.cluster.local,source.namespace=default "
            + "-i response.code=200 --stringmap_attributes 'request.headers=user-agent:curl;x-user:jane' -q requestcount=1\n\n"
            + "Exit codes: 0 OK and every quota granted in full, 1 the call failed, 2 bad usage, 3 denied, 4 a quota granted short.");
        options.AddTo(command);
        command.Options.Add(quotas);
        command.SetAction((parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            if (!options.TryRead(parse, out var args, out var problem) || !TryQuotas(parse.GetValue(quotas) ?? [], out var asked, out problem))
            {
                error.WriteLine("error: " + problem);
                return Task.FromResult(ExitCodes.BadInput);
            }

            return RunAsync(args, asked, new ApiOutput(parse.InvocationConfiguration.Output, args.Json), cancellationToken);
        });
        return command;
    }

    private static Task<int> RunAsync(ApiArgs args, IReadOnlyDictionary<string, long> quotas, ApiOutput output, CancellationToken cancellationToken)
    {
        var compressor = new AttributeCompressor(args.GlobalWordCount);
        var template = compressor.CreateCheckRequest(args.Attributes);
        foreach (var (name, amount) in quotas)
        {
            template.Quotas[name] = new CheckRequest.Types.QuotaParams { Amount = amount, BestEffort = true };
        }

        // As Istio's mixc: the deduplication id is a salt plus the call's number.
        var salt = DateTime.UtcNow.Ticks % TimeSpan.TicksPerSecond * 100;
        return ApiRunner.RunAsync(args, async (number, _, client, deadline, ct) =>
        {
            var request = template.Clone();
            request.DeduplicationId = (salt + number).ToString(CultureInfo.InvariantCulture);
            CheckResponse response;
            try
            {
                response = await client.CheckAsync(request, deadline: deadline, cancellationToken: ct).ConfigureAwait(false);
            }
            catch (RpcException e)
            {
                output.WriteFailure("Check RPC failed with: ", e);
                return ExitCodes.CallFailed;
            }

            return Print(response, args, quotas, output);
        }, cancellationToken);
    }

    private static int Print(CheckResponse response, ApiArgs args, IReadOnlyDictionary<string, long> quotas, ApiOutput output)
    {
        var precondition = response.Precondition ?? new CheckResponse.Types.PreconditionResult();
        if (!ReferencedAttributesDecoder.TryDecode(precondition.ReferencedAttributes, args.Attributes, out var references, out var problem))
        {
            output.Write(
                sb => sb.Append("Check RPC answered with referenced attributes that cannot be read: ").AppendLine(problem),
                w => w.WriteString("error", "referenced attributes cannot be read: " + problem));
            return ExitCodes.CallFailed;
        }

        var status = precondition.Status;
        var code = (status?.Code ?? 0) != 0 ? ExitCodes.Denied : ExitCodes.Ok;
        foreach (var (name, amount) in quotas)
        {
            if (code == ExitCodes.Ok && (!response.Quotas.TryGetValue(name, out var result) || result.GrantedAmount < amount))
            {
                code = ExitCodes.QuotaShort;
            }
        }

        if (!args.PrintResponse)
        {
            return code;
        }

        var granted = response.Quotas.OrderBy(q => q.Key, StringComparer.Ordinal).ToList();
        output.Write(
            sb =>
            {
                sb.Append("Check RPC completed successfully. Check status was ").AppendLine(ApiOutput.Describe(status));
                sb.Append(CultureInfo.InvariantCulture, $"  Valid use count: {precondition.ValidUseCount}, valid duration: {ApiOutput.GoText(precondition.ValidDuration)}").AppendLine();
                sb.AppendLine("  Referenced Attributes");
                foreach (var r in references.Select(r => r.ToString()).Order(StringComparer.Ordinal))
                {
                    sb.Append("    ").AppendLine(r);
                }

                if (granted.Count > 0)
                {
                    var rows = new List<string[]> { QuotaHeader };
                    rows.AddRange(granted.Select(q => new[] { "  " + q.Key, q.Value.GrantedAmount.ToString(CultureInfo.InvariantCulture), ApiOutput.GoText(q.Value.ValidDuration) }));
                    ApiOutput.AppendTable(sb, rows);
                }
            },
            w =>
            {
                w.WritePropertyName("status");
                ApiOutput.WriteStatus(w, status?.Code ?? 0, ApiOutput.CodeName(status?.Code ?? 0), status?.Message ?? string.Empty);
                ApiOutput.WriteDuration(w, "validDuration", precondition.ValidDuration);
                w.WriteNumber("validUseCount", precondition.ValidUseCount);
                ApiOutput.WriteReferences(w, references);
                w.WriteStartObject("quotas");
                foreach (var (name, q) in granted)
                {
                    w.WriteStartObject(name);
                    w.WriteNumber("grantedAmount", q.GrantedAmount);
                    ApiOutput.WriteDuration(w, "validDuration", q.ValidDuration);
                    w.WriteEndObject();
                }

                w.WriteEndObject();
            });
        return code;
    }

    private static bool TryQuotas(IReadOnlyList<string> flags, out Dictionary<string, long> quotas, out string? error)
    {
        quotas = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var segment in flags.SelectMany(f => f.Length == 0 ? [] : f.Split(',')))
        {
            var eq = segment.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0 || !long.TryParse(segment.AsSpan(eq + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var amount))
            {
                error = $"--quotas '{segment}': write name=amount, the amount a whole number";
                return false;
            }

            quotas[segment[..eq]] = amount;
        }

        error = null;
        return true;
    }
}
