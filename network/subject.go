package network

import (
	"encoding/hex"
	"regexp"

	"github.com/oncofed/oncofed/protocol"
)

// Subjects. Every query subject carries the protocol version and the study, so several
// networks, studies and protocol versions can share one hub, and a hub's permissions can
// grant an analyst one study only:
//
//	oncofed.<version>.<study>.<kind>          a query of one kind on one study
//	oncofed.<version>.<study>.cox.<site>      a query addressed to one site (phase 2 of a
//	                                          pooled Cox round: that site's weights only)
//	oncofed.<version>._catalog                catalog discovery: every site answers
//
// Sites are found through the micro service discovery subjects ($SRV.INFO.oncofed-node).
const (
	// ServiceName is the name under which every site registers its micro service.
	ServiceName = "oncofed-node"
	// ServiceVersion is the micro service's (semantic) version.
	ServiceVersion = "1.0.0"
	subjectPrefix  = "oncofed"

	// Headers on a node's reply: the site that answered and the reply's error code (empty
	// when the reply carries a payload), readable without decoding the body.
	HeaderSite      = "Oncofed-Site"
	HeaderErrorCode = "Oncofed-Error-Code"
	HeaderQueryID   = "Oncofed-Query-Id"
	// HeaderInstance names the process of the site that answered (its micro service
	// instance ID): every process of a site answers a catalog query.
	HeaderInstance = "Oncofed-Instance"

	metaSite     = "site"
	metaStudies  = "studies"
	metaProtocol = "protocol"
)

var plainToken = regexp.MustCompile(`^[A-Za-z0-9-]{1,64}$`)

// StudyToken is the subject token of a study name: the name itself when it consists of
// letters, digits and dashes, otherwise "_x" and its hexadecimal bytes, so that names with
// dots, spaces or wildcards stay one distinct token and no two studies share a subject.
func StudyToken(study string) string {
	if plainToken.MatchString(study) {
		return study
	}
	return "_x" + hex.EncodeToString([]byte(study))
}

// QuerySubject is the subject on which the sites of a study receive queries of one kind.
// Catalog queries go to CatalogSubject whatever their study.
func QuerySubject(study string, kind protocol.Kind) string {
	if kind == protocol.KindCatalog {
		return CatalogSubject()
	}
	return subjectPrefix + "." + protocol.Version + "." + StudyToken(study) + "." + string(kind)
}

// SiteQuerySubject is the subject on which one site of a study receives the queries addressed
// to it alone: today the phase-2 requests of a pooled Cox round (protocol.CoxPooledHessian),
// which carry weights meant for that site. A hub grants each site its own (docs/nats/hub.conf),
// so no site reads the weights sent to another.
func SiteQuerySubject(study string, kind protocol.Kind, site string) string {
	return QuerySubject(study, kind) + "." + StudyToken(site)
}

// CatalogSubject is the subject on which every site answers catalog queries.
func CatalogSubject() string {
	return subjectPrefix + "." + protocol.Version + "._catalog"
}

// queueGroup is a site's queue group: the processes of one site share the load, while each
// site, in a group of its own, receives every query.
func queueGroup(site string) string { return "site-" + StudyToken(site) }
