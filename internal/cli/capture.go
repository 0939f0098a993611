package cli

import (
	"encoding/json"

	"github.com/spf13/cobra"

	"github.com/vnetgw/vnetgw/internal/arm"
	"github.com/vnetgw/vnetgw/internal/client"
	"github.com/vnetgw/vnetgw/internal/pcap"
)

// packetCaptureCmd is az's vnet-gateway and vpn-connection packet-capture
// start, stop and wait, of the resources of kind k; what says what is
// captured.
func (g *globals) packetCaptureCmd(k kind, what string) *cobra.Command {
	typ := k.typ
	parent := &cobra.Command{Use: "packet-capture", Short: "Capture " + what + " (pcap)"}
	var rg, name, filter string
	// ids is az's --ids of start and stop: full ids of gateways (or
	// connections), each started or stopped in turn.
	var ids []string
	start := &cobra.Command{
		Use:   "start",
		Short: "Start capturing " + what,
		Long: `Start capturing ` + what + ` (inner packets,
decrypted: what the hosts send and receive), on every instance of the gateway,
until 'packet-capture stop'. --filter-data takes Azure's filter JSON:

  {"MaxPacketBufferSize":120,"MaxFileSize":100,
   "Filters":[{"SourceSubnets":["10.1.0.4/32"],"DestinationSubnets":["192.168.1.0/24"],
               "Protocol":[6],"DestinationPort":[443],"CaptureSingleDirectionTrafficOnly":false}]}

MaxPacketBufferSize is the bytes kept of each packet, MaxFileSize the MiB of
the file (default 100, at most 500); packets past it are counted, not kept.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if filter != "" {
				if _, err := pcap.ParseFilterData(filter); err != nil {
					return usagef("--filter-data: %w", err)
				}
			}
			targets, c, err := g.targets(ids, rg, typ, name)
			if err != nil {
				return err
			}
			_, err = postEach[json.RawMessage](cmd.Context(), c, targets, "/startPacketCapture", arm.VPNPacketCaptureStartParameters{FilterData: filter})
			return err
		},
	}
	start.Flags().StringVar(&filter, "filter-data", "", "Azure's packet capture filter (JSON); default: every packet; also --filter, az's name")
	azAliases(start, map[string]string{"filter": "filter-data"})
	var sasURL, file string
	stop := &cobra.Command{
		Use:   "stop",
		Short: "Stop the capture; print where the pcap file is, a JSON string with -o json (and save it with --output-file)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sasURL != "" && file != "" {
				return usagef("--sas-url uploads the capture; --output-file saves it here: give one")
			}
			targets, c, err := g.targets(ids, rg, typ, name)
			if err != nil {
				return err
			}
			if file != "" && len(targets) > 1 {
				return usagef("--output-file saves one capture: give one id with it")
			}
			// With a sasUrl the answer comes once the upload is done, or
			// given up after pcap.UploadTimeout: waited for.
			ctx := cmd.Context()
			if sasURL != "" {
				ctx = client.WithAnswerWait(ctx, pcap.UploadTimeout)
			}
			urls, err := postEach[string](ctx, c, targets, "/stopPacketCapture", arm.VPNPacketCaptureStopParameters{SASURL: sasURL})
			if file != "" {
				if err != nil {
					return err
				}
				b, err := c.Download(cmd.Context(), urls[0], pcap.MaxMaxBytes+1<<20)
				if err != nil {
					return err
				}
				if err := saveOutput(file, b); err != nil { // the hosts' traffic, decrypted
					return err
				}
			}
			return g.printURLsThen(urls, err)
		},
	}
	stop.Flags().StringVar(&sasURL, "sas-url", "", "a storage container's URL with its SAS token: the capture is uploaded there (Put Blob); default: served by vnetgw for an hour")
	stop.Flags().StringVar(&file, "output-file", "", "save the capture (pcap) here too")
	for _, c := range []*cobra.Command{start, stop} {
		c.Flags().StringVarP(&rg, "resource-group", "g", "", "resource group")
		c.Flags().StringVarP(&name, "name", "n", "", "name, or full resource id")
		idsFlag(c, &ids)
		noWait(c)
	}
	// az's packet-capture wait is the gateway's or the connection's own
	// wait (-g and -n, or --ids): a script that started a capture with
	// --no-wait waits for it so. It was an unknown command.
	parent.AddCommand(start, stop, g.waitCmd(k))
	return parent
}
