using System.Text.RegularExpressions;
using Istio.Mixer.V1;
using Mixer.Client;
using AttributeValue = Istio.Mixer.V1.Attributes.Types.AttributeValue;

namespace Mixer.Proxy;

/// <summary>
/// The quotas one listener's requests charge: the rules of every QuotaSpec bound (QuotaSpecBinding)
/// to the listener's destination service, as Istio's proxy applies them: a rule applies when any of
/// its matches holds (all clauses of a match must hold; no match at all means every request), and
/// every quota of every applying rule is charged.
/// </summary>
internal sealed class QuotaPlan
{
    private readonly Rule[] _rules;

    private QuotaPlan(Rule[] rules) => _rules = rules;

    public static QuotaPlan Empty { get; } = new([]);

    public bool IsEmpty => _rules.Length == 0;

    public static QuotaPlan For(ProxyConfig config, string serviceHost, string serviceName, string serviceNamespace)
    {
        var rules = new List<Rule>();
        foreach (var binding in config.QuotaSpecBindings)
        {
            if (!binding.Services.Any(s => Binds(s, serviceHost, serviceName, serviceNamespace)))
            {
                continue;
            }

            foreach (var reference in binding.QuotaSpecs)
            {
                var spec = config.QuotaSpecs.First(q => q.Name == reference.Name);
                rules.AddRange(spec.Rules.Select(r => new Rule(r)));
            }
        }

        return rules.Count == 0 ? Empty : new QuotaPlan([.. rules]);
    }

    /// <summary>The quotas <paramref name="attributes"/> charges (empty when none).</summary>
    public IReadOnlyList<QuotaRequest> QuotasFor(AttributeRecord attributes)
    {
        if (_rules.Length == 0)
        {
            return [];
        }

        List<QuotaRequest>? quotas = null;
        foreach (var rule in _rules)
        {
            if (rule.Applies(attributes))
            {
                quotas ??= [];
                quotas.AddRange(rule.Quotas);
            }
        }

        return quotas ?? (IReadOnlyList<QuotaRequest>)[];
    }

    private static bool Binds(IstioServiceConfig s, string host, string name, string ns)
    {
        if (s.Service is { Length: > 0 })
        {
            return string.Equals(s.Service, host, StringComparison.OrdinalIgnoreCase);
        }

        return (s.Name is null || string.Equals(s.Name, name, StringComparison.OrdinalIgnoreCase))
            && (s.Namespace is null || string.Equals(s.Namespace, ns, StringComparison.OrdinalIgnoreCase));
    }

    private sealed class Rule
    {
        private readonly (string Name, string? Key, Func<string, bool> Test)[][] _matches;

        public Rule(QuotaRuleConfig config)
        {
            Quotas = [.. config.Quotas.Select(q => new QuotaRequest(q.Quota, q.Charge))];
            _matches = [.. config.Match.Select(m => m.Clause.Select(c => Clause(c.Key, c.Value)).ToArray())];
        }

        public QuotaRequest[] Quotas { get; }

        public bool Applies(AttributeRecord attributes)
        {
            if (_matches.Length == 0)
            {
                return true;
            }

            foreach (var clauses in _matches)
            {
                if (clauses.All(c => Value(attributes, c.Name, c.Key) is { } v && c.Test(v)))
                {
                    return true;
                }
            }

            return false;
        }

        private static string? Value(AttributeRecord attributes, string name, string? key)
        {
            var slot = attributes.Layout.SlotOf(name);
            if (slot < 0)
            {
                return null;
            }

            return attributes.KindOf(slot) switch
            {
                AttributeValue.ValueOneofCase.StringValue when key is null => attributes.StringOf(slot),
                AttributeValue.ValueOneofCase.StringMapValue when key is not null => attributes.MapOf(slot).TryGetValue(key, out var v) ? v : null,
                AttributeValue.ValueOneofCase.Int64Value when key is null => attributes.Int64Of(slot).ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => null,
            };
        }

        private static (string, string?, Func<string, bool>) Clause(string attribute, StringMatchConfig match)
        {
            // "request.headers[x-user]" names one key of a string map.
            string name = attribute;
            string? key = null;
            var open = attribute.IndexOf('[', StringComparison.Ordinal);
            if (open > 0 && attribute.EndsWith(']'))
            {
                name = attribute[..open];
                key = attribute[(open + 1)..^1].Trim('"', '\'');
            }

            Func<string, bool> test = match switch
            {
                { Exact: { } e } => v => v == e,
                { Prefix: { } p } => v => v.StartsWith(p, StringComparison.Ordinal),
                { Regex: { } r } => new Regex("^(?:" + r + ")$", RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100)).IsMatch,
                _ => _ => false,
            };
            return (name, key, test);
        }
    }
}
